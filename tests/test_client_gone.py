"""A client that leaves is not served, on every protocol: 200 requests queued behind a stalled model whose
clients then go (HTTP connections closed, gRPC calls cancelled, WebSocket streams closed) run no model
work, and are counted as dropped."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
import numpy as np
import pytest
import uvicorn
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc as pb_grpc
from websockets.sync.client import connect

from app.http.protocol import HttpProtocol
from app.main import create_app
from app.settings import Settings
from app.tasks.digit import DIGIT_EXAMPLE
from tests.conftest import MODELS, free_port, parse_metrics, total, wait_for

LEAVING = 200


@dataclass
class Served:
    url: str
    grpc: str
    app: Any
    runs: list[int] = field(default_factory=list)  # items of every model run, in order


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    port, grpc_port = free_port(), free_port()
    settings = Settings(model_dir=MODELS, device="cpu", models="digit,sine_stream", grpc_port=grpc_port,
                        request_timeout_s=60, ws_max_messages_per_s=1000)
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, http=HttpProtocol, log_level="warning",
                                           limit_concurrency=1000))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: server.started, 30)
    wait_for(lambda: httpx.get(f"{url}/health/ready").status_code == 200, 60)
    yield Served(url, f"127.0.0.1:{grpc_port}", app)
    server.should_exit = True
    thread.join(30)


def stall_and_leave(served: Served, model: str, first: Callable[[], None], leave: Callable[[], None]) -> int:
    """Stall `model` on `first` (sent from a thread), run `leave` (which queues requests and abandons them),
    release the model; the items the model ran after the first request."""
    batcher = served.app.state.registry.get(model).batcher
    original, bound = batcher._run_batch, batcher.inline_max_s
    running, release = threading.Event(), threading.Event()
    runs: list[int] = []

    def stuck(payloads: list[Any]) -> list[Any]:
        runs.append(sum(batcher._size_of(p) for p in payloads))
        running.set()
        release.wait(30)
        return list(original(payloads))

    batcher._run_batch, batcher.inline_max_s = stuck, 0.0
    try:
        sender = threading.Thread(target=first)
        sender.start()
        assert running.wait(10)
        leave()
        wait_for(lambda: batcher._queue.items == 0, 30)  # every abandoned request stopped counting
        release.set()
        sender.join(30)
        time.sleep(0.2)  # the worker takes (and drops) what was queued
    finally:
        batcher._run_batch, batcher.inline_max_s = original, bound
        release.set()
    return sum(runs[1:])


def dropped(served: Served, model: str) -> float:
    found = parse_metrics(httpx.get(f"{served.url}/metrics").text)
    return total(found, "seqserve_dropped_total", model=model, reason="cancelled")


def queued(served: Served, model: str) -> Callable[[], bool]:
    batcher = served.app.state.registry.get(model).batcher
    return lambda: batcher._queue.items >= LEAVING


def test_http_clients_that_close_their_connections_are_not_served(served: Served) -> None:
    body = json.dumps({"images": [DIGIT_EXAMPLE]}).encode()
    request = (b"POST /predict/digit HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)

    def leave() -> None:
        sockets = [socket.create_connection(("127.0.0.1", int(served.url.rsplit(":", 1)[1]))) for _ in range(LEAVING)]
        for connection in sockets:
            connection.sendall(request)
        wait_for(queued(served, "digit"), 30)
        for connection in sockets:
            connection.close()

    before = dropped(served, "digit")
    ran = stall_and_leave(served, "digit", lambda: httpx.post(f"{served.url}/predict/digit",
                                                             json={"images": [DIGIT_EXAMPLE]}, timeout=60), leave)
    assert ran == 0
    assert dropped(served, "digit") - before == LEAVING
    assert httpx.post(f"{served.url}/predict/digit", json={"images": [DIGIT_EXAMPLE]}).status_code == 200


def test_grpc_calls_that_are_cancelled_are_not_served(served: Served) -> None:
    message = pb.ModelInferRequest(model_name="digit")
    message.inputs.add(name="images", datatype="FP32", shape=[1, 28, 28])
    message.raw_input_contents.append(np.array([DIGIT_EXAMPLE], dtype=np.float32).tobytes())
    channel = grpc.insecure_channel(served.grpc)
    stub = pb_grpc.GRPCInferenceServiceStub(channel)

    def leave() -> None:
        calls = [stub.ModelInfer.future(message, timeout=60) for _ in range(LEAVING)]
        wait_for(queued(served, "digit"), 30)
        for call in calls:
            call.cancel()

    before = dropped(served, "digit")
    ran = stall_and_leave(served, "digit", lambda: stub.ModelInfer(message, timeout=60), leave)
    channel.close()
    assert ran == 0
    assert dropped(served, "digit") - before == LEAVING


def test_websocket_streams_that_close_are_not_served(served: Served) -> None:
    ws_url = served.url.replace("http://", "ws://") + "/predict/sine/stream/ws"
    frame = json.dumps({"values": [0.1, 0.2]})

    def first() -> None:
        with connect(ws_url) as stream:
            stream.send(frame)
            stream.recv(timeout=60)

    def leave() -> None:
        with contextlib.ExitStack() as streams:  # leaving the block closes every stream
            for stream in [streams.enter_context(connect(ws_url)) for _ in range(LEAVING)]:
                stream.send(frame)
            wait_for(queued(served, "sine_stream"), 30)

    before = dropped(served, "sine_stream")
    ran = stall_and_leave(served, "sine_stream", first, leave)
    assert ran == 0
    assert dropped(served, "sine_stream") - before == LEAVING
