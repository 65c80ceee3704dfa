"""The hot JSON routes without FastAPI's per-request machinery.

Profiling showed FastAPI's routing, dependency solving and exception middlewares costing more per
request than parsing, validation and the model together. This pure ASGI layer answers
POST /predict/{digit,sine,translate} with the very handlers the FastAPI routes call, the same auth,
the same errors (through the app's own exception handlers); everything else, including the
documented routes for OpenAPI, falls through to FastAPI. `SEQSERVE_FAST_PATH=false` turns it off.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app.repository.registry import Registry
from app.rest import predict
from app.rest.deps import require_api_key
from app.rest.errors import BodyError
from app.settings import Settings

Handler = Callable[[Request, Registry, Settings, "int | None", str], Awaitable[Response]]


@dataclass(frozen=True)
class Route:
    """What the metrics middleware reads from scope["route"]."""

    path: str
    handler: Handler
    default_model: str


ROUTES = {
    "/predict/digit": Route("/predict/digit", predict.digit, "digit"),
    "/predict/sine": Route("/predict/sine", predict.sine, "sine"),
    "/predict/translate": Route("/predict/translate", predict.translate, ""),
}


def query_arguments(request: Request, default_model: str) -> tuple[int | None, str]:
    """?version= and ?model=, checked as the FastAPI routes declare them (other parameters are ignored)."""
    raw_version = request.query_params.get("version")
    version = None
    if raw_version is not None:
        if not (raw_version.isascii() and raw_version.isdigit()) or int(raw_version) < 1:
            raise BodyError(422, f"query.version: must be an integer >= 1, got {raw_version!r}")
        version = int(raw_version)
    return version, request.query_params.get("model", default_model)


class FastPathMiddleware:
    def __init__(self, app: ASGIApp, fastapi_app: FastAPI) -> None:
        self.app = app
        self.fastapi_app = fastapi_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = ROUTES.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if route is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = route
        scope["app"] = self.fastapi_app
        request = Request(scope, receive)
        state = self.fastapi_app.state
        try:
            await require_api_key(request, state.settings)
            version, model = query_arguments(request, route.default_model)
            response = await route.handler(request, state.registry, state.settings, version, model)
        except Exception as exc:  # answered exactly as the FastAPI routes answer it
            response = await self.handle(request, exc)
        await response(scope, receive, send)

    async def handle(self, request: Request, exc: Exception) -> Response:
        handlers = self.fastapi_app.exception_handlers
        for cls in type(exc).__mro__:
            if cls in handlers:
                handled = handlers[cls](request, exc)
                return handled if isinstance(handled, Response) else await handled
        raise exc
