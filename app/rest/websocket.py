"""WebSocket /predict/sine/stream/ws: a live series over one connection, its state kept by the connection.

Send `{"values": [...], "horizon": 16}` frames (the first may carry `"state"`, a token from an HTTP
answer, to resume a stream); each frame gets one answer `{"model", "version", "forecast", "state",
"observed"}`, the `state` token letting the client resume elsewhere if the connection drops. A bad frame
gets `{"error", "status"}` and the stream goes on. The connection is closed with
1008 (rate over `ws_max_messages_per_s`, or the API key missing or wrong), 1009 (a frame over
`ws_max_message_bytes`), 1003 (a binary frame), 1001 (idle past `ws_idle_timeout_s`), 1012 (the model
version was unloaded: resume with the last token), 1011 (an internal error).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from app.auth import check_api_key
from app.dataplane import DataPlane, model_name
from app.errors import InputError, ModelUnavailable, ServeError
from app.metrics import Metrics
from app.repository.registry import Registry
from app.rest.body import parse_json_object
from app.rest.predict import parse_query
from app.settings import Settings
from app.tasks.sine_stream import SineStreamModel, StreamState

ROUTE = "/predict/sine/stream/ws"
FRAME_FIELDS = {"values", "horizon", "state"}

router = APIRouter()


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


@router.websocket(ROUTE)
async def stream(websocket: WebSocket) -> None:
    state_app = websocket.app.state
    settings: Settings = state_app.settings
    dataplane: DataPlane = state_app.dataplane
    registry: Registry = state_app.registry
    metrics: Metrics = state_app.metrics
    try:
        check_api_key(websocket.headers.get("authorization", ""), settings)
    except ServeError:
        await websocket.close(code=1008, reason="missing or wrong API key")  # before accept: a 403 handshake
        return
    await websocket.accept()
    try:
        version, model = parse_query(websocket.scope["query_string"])
        entry = dataplane.find(model_name(SineStreamModel, {}, model), version, SineStreamModel)
    except ServeError as exc:
        await websocket.close(code=1008, reason=exc.message[:120])
        return
    task = entry.model
    assert isinstance(task, SineStreamModel)
    state: StreamState | None = None
    limit = RateLimit(settings.ws_max_messages_per_s)
    while True:
        try:
            message = await asyncio.wait_for(websocket.receive(), settings.ws_idle_timeout_s)
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
        if len(text) > settings.ws_max_message_bytes:
            await websocket.close(code=1009, reason=f"frame over {settings.ws_max_message_bytes} bytes")
            return
        if not limit.allow():
            await websocket.close(code=1008, reason=f"over {settings.ws_max_messages_per_s:g} frames a second")
            return
        registry.activity.enter()
        started, status = time.perf_counter(), 200
        try:
            frame = _frame(text, first=state is None)
            current = task.open_state(frame.get("state")) if state is None else state
            result = await dataplane.run(entry, task.step_json(frame, current))
            state = result.state  # only a step that ran moves the stream on
            await websocket.send_text(orjson.dumps(
                {"model": entry.name, "version": entry.version, **task.answer_json(result)},
                option=orjson.OPT_SERIALIZE_NUMPY).decode())
        except ModelUnavailable as exc:
            status = exc.status
            await websocket.close(code=1012, reason="model version unloaded; resume with the last state token")
            return
        except ServeError as exc:
            status = exc.status
            await websocket.send_text(orjson.dumps({"error": exc.message, "status": exc.status}).decode())
        except WebSocketDisconnect:
            return
        except Exception:
            status = 500
            with contextlib.suppress(Exception):
                await websocket.close(code=1011, reason="internal error")
            raise
        finally:
            registry.activity.leave()
            metrics.requests.labels(ROUTE, entry.key, str(status)).inc()
            metrics.latency.labels(ROUTE).observe(time.perf_counter() - started)


def _frame(text: str, first: bool) -> dict[str, Any]:
    frame = parse_json_object(text, "frame")
    unknown = sorted(set(frame) - FRAME_FIELDS)
    if unknown:
        raise InputError(f"unknown field(s) {unknown}; expected values, horizon (and state, first frame only)")
    if "state" in frame and not first:
        raise InputError("this connection carries the state; send 'state' only in the first frame, to resume")
    return frame
