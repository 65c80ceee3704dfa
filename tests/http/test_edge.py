"""The edge middleware on a one-route app: request ids, the body limit in each protocol's shape, the
record of each request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from app import rest, v2
from app.batching.activity import Activity
from app.dataplane import Calls
from app.draining import Drain
from app.errors import ServeError
from app.http.edge import EdgeMiddleware
from app.http.errors import Mount, Mounts, render_exception
from app.http.protocol import OPEN_CONNECTIONS
from app.metrics import Metrics
from tests.conftest import request_counts

LIMIT = 1024
MOUNTS = Mounts([Mount("/v2", "v2", v2.errors.render, v2.errors.SCHEMA),
                 Mount("", "rest", rest.errors.render, rest.errors.SCHEMA)])


async def echo(request: Request) -> JSONResponse:
    try:
        return JSONResponse({"received": len(await request.body())})
    except ServeError as exc:
        return render_exception(request, exc)  # type: ignore[return-value]


@pytest.fixture()
def metrics() -> Metrics:
    return Metrics()


def edge(app: Starlette, metrics: Metrics, activity: Activity | None = None) -> EdgeMiddleware:
    app.state.mounts = MOUNTS  # what render_exception reads
    return EdgeMiddleware(app, max_body_bytes=LIMIT, calls=Calls(metrics, activity or Activity()), mounts=MOUNTS)


@pytest.fixture()
def client(metrics: Metrics) -> TestClient:
    app = Starlette(routes=[Route("/echo", echo, methods=["POST"]), Route("/v2/echo", echo, methods=["POST"])])
    return TestClient(edge(app, metrics))


def chunks(total: int) -> Iterator[bytes]:  # no Content-Length: the edge counts as the body arrives
    for _ in range(total // 100):
        yield b"x" * 100


def test_request_ids_are_made_or_kept(client: TestClient) -> None:
    made = client.post("/echo", content=b"{}")
    assert len(made.headers["x-request-id"]) == 32
    kept = client.post("/echo", content=b"{}", headers={"X-Request-ID": "abc-123"})
    assert kept.headers["x-request-id"] == "abc-123"
    unusable = client.post("/echo", content=b"{}", headers={"X-Request-ID": "   "})
    assert len(unusable.headers["x-request-id"]) == 32
    made_ids = {client.post("/echo", content=b"{}").headers["x-request-id"] for _ in range(20)}
    assert len(made_ids) == 20 and all(int(made, 16) >= 0 for made in made_ids)


def test_bodies_within_the_limit_pass(client: TestClient) -> None:
    assert client.post("/echo", content=b"x" * LIMIT).json() == {"received": LIMIT}
    assert client.post("/echo", content=chunks(LIMIT - 24)).json() == {"received": 1000}


@pytest.mark.parametrize(("path", "key"), [("/echo", "detail"), ("/v2/echo", "error")])
def test_over_the_limit_is_413_in_the_protocols_shape(client: TestClient, path: str, key: str) -> None:
    declared = client.post(path, content=b"x" * (LIMIT + 1))
    assert declared.status_code == 413
    assert declared.json() == {key: f"request body exceeds {LIMIT} bytes"}
    counted = client.post(path, content=chunks(10 * LIMIT))
    assert counted.status_code == 413
    assert counted.json() == {key: f"request body exceeds {LIMIT} bytes"}
    assert "close" not in counted.headers.get("connection", "")  # drained: the connection stays usable


def test_invalid_content_length_is_400(client: TestClient) -> None:
    response = client.post("/echo", content=b"{}", headers={"Content-Length": "two"})
    assert response.status_code == 400
    assert response.json() == {"detail": "invalid Content-Length header"}


def test_requests_are_counted_by_protocol_route_and_outcome(client: TestClient, metrics: Metrics) -> None:
    client.post("/echo", content=b"{}")
    client.post("/echo", content=b"x" * (LIMIT + 1))
    client.post("/v2/echo", content=b"x" * (LIMIT + 1))
    client.post("/echo", content=b"{}", headers={"Content-Length": "two"})
    counts = request_counts(metrics.render().decode(), "protocol", "route", "outcome")
    assert counts == {("rest", "/echo", "ok"): 1.0, ("rest", "unmatched", "resource_exhausted"): 1.0,
                      ("v2", "unmatched", "resource_exhausted"): 1.0,  # refused before routing
                      ("rest", "unmatched", "invalid_argument"): 1.0}


@pytest.mark.parametrize(("extensions", "sole"), [
    ({OPEN_CONNECTIONS: {"count": 1, "served": 1}}, True),
    ({OPEN_CONNECTIONS: {"count": 2, "served": 1}}, False),  # another connection's request may be waiting unread
    ({}, False),  # a server that does not say
])
def test_a_request_is_over_the_sole_connection_only_when_the_server_says_so(extensions: dict[str, Any],
                                                                           sole: bool) -> None:
    activity = Activity()
    seen: list[bool] = []

    async def during(request: Request) -> JSONResponse:
        seen.append(activity.sole_connection)
        return JSONResponse({})

    middleware = edge(Starlette(routes=[Route("/x", during)]), Metrics(), activity)

    async def server_says(scope: Scope, receive: Receive, send: Send) -> None:
        scope["extensions"] = {**scope.get("extensions", {}), **extensions}
        await middleware(scope, receive, send)

    assert TestClient(server_says).get("/x").status_code == 200
    assert seen == [sole]


@pytest.mark.parametrize(("served", "limit", "closes"), [(2, 3, False), (3, 3, True), (9, 3, True), (500, 0, False)])
def test_a_connection_ends_after_its_share_of_requests(served: int, limit: int, closes: bool) -> None:
    app = Starlette(routes=[Route("/x", lambda _: JSONResponse({}))])
    app.state.mounts = MOUNTS
    middleware = EdgeMiddleware(app, max_body_bytes=LIMIT, calls=Calls(Metrics(), Activity()), mounts=MOUNTS,
                                max_connection_requests=limit)

    async def server_says(scope: Scope, receive: Receive, send: Send) -> None:
        scope["extensions"] = {OPEN_CONNECTIONS: {"count": 1, "served": served}}
        await middleware(scope, receive, send)

    response = TestClient(server_says).get("/x")
    assert response.status_code == 200
    assert (response.headers.get("connection") == "close") is closes


def test_every_connection_ends_while_the_server_drains() -> None:
    app = Starlette(routes=[Route("/x", lambda _: JSONResponse({}))])
    drain = Drain(5.0)
    client = TestClient(EdgeMiddleware(app, max_body_bytes=LIMIT, calls=Calls(Metrics(), Activity()), mounts=MOUNTS,
                                       drain=drain))
    assert "connection" not in client.get("/x").headers
    drain.begin()
    response = client.get("/x")
    assert response.status_code == 200
    assert response.headers["connection"] == "close"


def test_an_error_already_answered_500_is_not_raised_again(metrics: Metrics) -> None:
    """Starlette answers an unhandled error 500 and raises it again, so the server would log it a second
    time; the edge lets it end there. An error raised before any answer still reaches the server."""
    async def boom(request: Request) -> JSONResponse:
        raise RuntimeError("fault")

    client = TestClient(edge(Starlette(routes=[Route("/boom", boom)]), metrics))  # raises what reaches it
    assert client.get("/boom").status_code == 500

    async def before_any_answer(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("fault")

    bare = EdgeMiddleware(before_any_answer, max_body_bytes=LIMIT, calls=Calls(metrics, Activity()), mounts=MOUNTS)
    with pytest.raises(RuntimeError):
        TestClient(bare).get("/x")
