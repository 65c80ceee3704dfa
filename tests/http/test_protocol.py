"""app/http_protocol.py on one-route apps, served by uvicorn over a real socket."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from app.http.protocol import JOIN_LIMIT, HeldHeadTransport, HttpProtocol, connection_of
from tests.conftest import free_port

WRITES: list[bytes] = []  # every write the server made, in order
SECOND_CHUNK = threading.Event()  # set by a test once it has read the first chunk of /stream


class RecordingProtocol(HttpProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(Recording(transport))  # type: ignore[arg-type]


class Recording:
    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport

    def write(self, data: bytes) -> None:
        WRITES.append(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


async def echo(request: Request) -> Response:
    return JSONResponse({"got": len(await request.body())})


async def big(_: Request) -> Response:
    return Response(b"x" * (JOIN_LIMIT + 1), media_type="application/octet-stream")


async def stream(_: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"first;"
        await asyncio.to_thread(SECOND_CHUNK.wait, 10)  # a held first chunk would keep this waiting
        yield b"second"

    return StreamingResponse(chunks(), media_type="text/plain")


async def fails(_: Request) -> Response:
    raise RuntimeError("boom")


async def connections(request: Request) -> Response:
    connection = connection_of(request.scope)
    assert connection is not None
    return JSONResponse({"open": connection["count"], "served": connection["served"]})


APP = Starlette(routes=[
    Route("/echo", echo, methods=["GET", "HEAD", "POST"]), Route("/big", big), Route("/stream", stream),
    Route("/fails", fails), Route("/connections", connections),
])


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(APP, host="127.0.0.1", port=port, http=RecordingProtocol,
                                           log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        thread.join(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_head_and_body_go_out_in_one_write(url: str) -> None:
    with httpx.Client(base_url=url) as http:  # one kept-alive connection, three responses
        for size in (0, 10, 1000):
            WRITES.clear()
            response = http.post("/echo", content=b"a" * size)
            assert response.json() == {"got": size}
            assert len(WRITES) == 1, WRITES
            assert WRITES[0].startswith(b"HTTP/1.1 200 OK\r\n") and WRITES[0].endswith(b'{"got":%d}' % size)


def test_a_big_body_follows_its_head(url: str) -> None:
    WRITES.clear()
    response = httpx.get(f"{url}/big")
    assert len(response.content) == JOIN_LIMIT + 1
    assert [w.startswith(b"HTTP/1.1 200") for w in WRITES] == [True, False]


def test_a_head_request_gets_its_head(url: str) -> None:
    """HEAD has no body write: the head goes out when the response ends."""
    with httpx.Client(base_url=url, timeout=5) as http:
        head = http.head("/echo")
        assert head.status_code == 200 and head.content == b""
        assert http.post("/echo", content=b"abc").json() == {"got": 3}  # the connection still works


def test_100_continue_is_not_held(url: str) -> None:
    """A client that asks whether to send its body hears `100 Continue` before it sends a byte of it."""
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        assert client.recv(1024) == b"HTTP/1.1 100 Continue\r\n\r\n"
        client.sendall(b"body")
        answer = b""
        while not answer.endswith(b'{"got":4}'):
            chunk = client.recv(1024)
            assert chunk, answer
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")


def test_a_streamed_response_is_not_held_back(url: str) -> None:
    SECOND_CHUNK.clear()
    with httpx.stream("GET", f"{url}/stream", timeout=5) as response:
        chunks = response.iter_raw()
        assert next(chunks) == b"first;"  # arrives while the app still waits to send the second
        SECOND_CHUNK.set()
        assert b"".join(chunks) == b"second"


def test_an_app_error_is_a_500_and_the_server_goes_on(url: str) -> None:
    with httpx.Client(base_url=url) as http:
        assert http.get("/fails").status_code == 500
    assert httpx.post(f"{url}/echo", content=b"ok").json() == {"got": 2}


class FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def test_a_close_sends_the_held_head_first() -> None:
    fake = FakeTransport()
    held = HeldHeadTransport(fake)  # type: ignore[arg-type]
    held.write(b"head")
    assert fake.writes == []
    held.close()
    assert fake.writes == [b"head"] and fake.closed
    assert held.is_closing()  # anything else reaches the transport


def test_the_scope_says_how_many_connections_are_open_and_what_each_carried(url: str) -> None:
    def ask(client: httpx.Client) -> tuple[int, int]:
        answer = client.get("/connections").json()
        return answer["open"], answer["served"]

    with httpx.Client(base_url=url) as first:
        assert ask(first) == (1, 1)
        with httpx.Client(base_url=url) as second:
            assert ask(second) == (2, 1)
            assert ask(first) == (2, 2)
        for _ in range(100):  # the server hears of the second's close a moment later
            if ask(first)[0] == 1:
                break
            threading.Event().wait(0.01)
        assert ask(first)[0] == 1


def test_another_server_says_nothing_about_connections() -> None:
    assert connection_of({"type": "http", "headers": []}) is None
