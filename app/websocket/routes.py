"""WebSocket `<task route>/ws` for every stateful task (`/predict/sine/stream/ws`), and
`/models/{name}/stream/ws` for any model whose manifest declares state: a live stream over one connection,
its state kept by the connection.

Send JSON frames of the task's step fields (`{"values": [...], "horizon": 16}`), or of the model's tensors
(`{"inputs": {"x": [...]}}`, one stream's, without the batch axis); the first may carry
`"state"`, a token from an HTTP answer, to resume a stream. Each frame gets one answer, whose `state`
token lets the client resume elsewhere if the connection drops. A bad frame gets `{"error", "status"}`
and the stream goes on. The connection is closed with 1008 (rate over `ws_max_messages_per_s`, or the
API key missing or wrong), 1009 (a frame over `ws_max_message_bytes`), 1003 (a binary frame), 1001 (idle
past `ws_idle_timeout_s`), 1012 (the model version was unloaded: resume with the last token), 1011 (an
internal error). Each frame is one data plane call.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import orjson
from fastapi import FastAPI, WebSocket
from starlette.types import Message
from starlette.websockets import WebSocketDisconnect

from app.auth import check_api_key
from app.dataplane import DataPlane, Stream, Task
from app.errors import ModelUnavailable, ServeError
from app.http.body import parse_json_object
from app.settings import Settings
from app.tasks import TASKS

T = TypeVar("T")

PROTOCOL = "websocket"


def stream_routes() -> dict[str, Task]:
    """Route path -> task, for every stateful task with a typed route."""
    return {f"{task.route}/ws": task for task in TASKS.values() if task.stateful and task.route}


MODEL_STREAM_ROUTE = "/models/{name}/stream/ws"


def add_stream_routes(app: FastAPI) -> None:
    for path, task in stream_routes().items():
        app.add_api_websocket_route(path, endpoint_for(path, task))
    app.add_api_websocket_route(MODEL_STREAM_ROUTE, model_stream)


async def model_stream(websocket: WebSocket, name: str) -> None:
    """Any stateful model's stream, in frames of its tensors (`{"inputs": {...}}`; the first may carry
    `"state"`), each answered with its outputs, the state token and the steps taken."""
    dataplane: DataPlane = websocket.app.state.dataplane
    version = websocket.query_params.get("version")
    await serve_stream(websocket, MODEL_STREAM_ROUTE, lambda: dataplane.open_model_stream(name, version))


class RateLimit:
    """A token bucket: `rate` frames a second, bursts of as many."""

    def __init__(self, rate: float) -> None:
        self.rate, self.tokens, self.last = rate, rate, time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


def endpoint_for(route: str, task: Task) -> Callable[[WebSocket], Awaitable[None]]:
    async def endpoint(websocket: WebSocket) -> None:
        dataplane: DataPlane = websocket.app.state.dataplane
        query = websocket.query_params
        await serve_stream(websocket, route, lambda: dataplane.open_stream(task, query.get("model"),
                                                                           query.get("version")))

    endpoint.__name__ = f"stream_{task.task}"
    return endpoint


async def serve_stream(websocket: WebSocket, route: str, open_stream: Callable[[], Stream]) -> None:
    settings: Settings = websocket.app.state.settings
    dataplane: DataPlane = websocket.app.state.dataplane
    try:
        client = check_api_key(websocket.headers.get("authorization", ""), settings)
    except ServeError:
        await websocket.close(code=1008, reason="missing or wrong API key")  # before accept: a 403 handshake
        return
    if client is None:
        client = websocket.client.host if websocket.client else ""
    await websocket.accept()
    try:
        stream = open_stream()
    except ServeError as exc:
        await websocket.close(code=1008, reason=exc.message[:120])
        return
    limit = RateLimit(settings.ws_max_messages_per_s)
    messages = ReadAhead(websocket)

    async def step(text: str) -> dict[str, Any]:
        with dataplane.call(PROTOCOL, route, client=client) as call:
            return await dataplane.stream_step(stream, parse_json_object(text, "frame"), call)

    try:
        while True:
            try:
                message = await messages.next(settings.ws_idle_timeout_s)
            except TimeoutError:
                await websocket.close(code=1001, reason=f"idle for {settings.ws_idle_timeout_s:g} s")
                return
            except WebSocketDisconnect:
                return
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                await websocket.close(code=1003, reason="send JSON text frames")
                return
            if len(text.encode()) > settings.ws_max_message_bytes:  # bytes, as uvicorn's own limit counts them
                await websocket.close(code=1009, reason=f"frame over {settings.ws_max_message_bytes} bytes")
                return
            if not limit.allow():
                await websocket.close(code=1008, reason=f"over {settings.ws_max_messages_per_s:g} frames a second")
                return
            try:
                answer = await messages.unless_closed(step(text))
                if answer is None:  # the client closed while its step waited: the step was dropped
                    return
                await websocket.send_text(orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY).decode())
            except ModelUnavailable:
                await websocket.close(code=1012, reason="model version unloaded; resume with the last state token")
                return
            except ServeError as exc:
                await websocket.send_text(orjson.dumps({"error": exc.message, "status": exc.status}).decode())
            except WebSocketDisconnect:
                return
            except Exception:
                with contextlib.suppress(Exception):
                    await websocket.close(code=1011, reason="internal error")
                raise
    finally:
        messages.stop()
        dataplane.close_stream(stream)  # however the connection ended


class ReadAhead:
    """A connection's messages, read ahead while a step runs, so that a client that closes is noticed at
    once and its queued step dropped instead of run. Frames still run one at a time, in order."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.ahead: asyncio.Task[Message] | None = None

    def _reading(self) -> asyncio.Task[Message]:
        if self.ahead is None:
            self.ahead = asyncio.ensure_future(self.websocket.receive())
        return self.ahead

    async def next(self, timeout_s: float) -> Message:
        """The next message; TimeoutError when none comes within `timeout_s`."""
        reading = self._reading()
        done, _ = await asyncio.wait({reading}, timeout=timeout_s)
        if not done:
            raise TimeoutError
        self.ahead = None
        return reading.result()

    async def unless_closed(self, work: Coroutine[Any, Any, T]) -> T | None:
        """`work`'s result; None, with `work` cancelled, when the client closes first. A frame that arrives
        meanwhile waits for the next `next`."""
        running, reading = asyncio.ensure_future(work), self._reading()
        await asyncio.wait({running, reading}, return_when=asyncio.FIRST_COMPLETED)
        if not running.done() and (reading.exception() is not None
                                   or reading.result()["type"] == "websocket.disconnect"):
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
            return None
        return await running

    def stop(self) -> None:
        if self.ahead is not None:
            self.ahead.cancel()
