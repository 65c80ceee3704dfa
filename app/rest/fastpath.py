"""The typed JSON routes without FastAPI's per-request machinery.

Profiling showed FastAPI's routing, dependency solving and exception middlewares costing more per
request than parsing, validation and the model together. This pure ASGI layer answers the typed
routes of the task table (`typed_routes`) with the very endpoint the FastAPI routes call, and renders
errors with the very function FastAPI's exception handlers call; everything else falls through to
FastAPI. A good answer goes out as two ASGI messages, with no request or response objects.
`SEQSERVE_FAST_PATH=false` turns it off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.dataplane import Task
from app.http.errors import render_exception
from app.http.responses import FastJSONResponse
from app.rest.predict import predict, typed_routes

route_selected: Callable[..., None] | None
try:  # FastAPI's native OpenTelemetry names a request's span after its route; the fast path says which
    from fastapi.telemetry._api import _route_selected as route_selected
except ImportError:  # pragma: no cover - an older FastAPI without native telemetry
    route_selected = None

JSON = FastJSONResponse.media_type.encode()


@dataclass(frozen=True)
class Route:
    """What the edge's request record (and telemetry) read from scope["route"]."""

    path: str
    task: Task


class FastPathMiddleware:
    def __init__(self, app: ASGIApp, fastapi_app: FastAPI) -> None:
        self.app = app
        self.fastapi_app = fastapi_app
        self.routes = {path: Route(path, task) for path, task in typed_routes().items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if route is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = route
        scope["app"] = self.fastapi_app
        if route_selected is not None and "fastapi.telemetry" in scope:
            route_selected(scope=scope, path=route.path)
        try:
            answer = await predict(scope, receive, route.task)
        except Exception as exc:  # answered exactly as the FastAPI route answers it
            await render_exception(Request(scope, receive), exc)(scope, receive, send)
            return
        # The headers Starlette's Response would send, in its order.
        headers = [(b"content-length", str(len(answer)).encode()), (b"content-type", JSON)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})
