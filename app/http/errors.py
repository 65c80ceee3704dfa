"""Every error becomes a response once, in the shape of the protocol mounted at its path.

Each protocol served over HTTP says how it renders an error (typed REST: app/rest/errors.py; V2:
app/v2/errors.py) and under which path prefix it is mounted; the app's `Mounts` table, built in
app/main.py, picks the shape by path. The FastAPI exception handlers, the fast path and the edge's own
refusals all come here."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from app.errors import ServeError

logger = logging.getLogger(__name__)

Render = Callable[[int, str], tuple[int, bytes]]  # (status, message) -> (status sent, JSON body)


@dataclass(frozen=True)
class Mount:
    """A protocol served under a path prefix: its name (the metrics' `protocol` label) and its error shape."""

    prefix: str
    protocol: str
    render: Render
    error_schema: dict[str, Any]  # the JSON schema of `render`'s body, for OpenAPI

    def holds(self, path: str) -> bool:
        return not self.prefix or path == self.prefix or path.startswith(self.prefix + "/")


class Mounts:
    def __init__(self, mounts: list[Mount]) -> None:
        self.mounts = sorted(mounts, key=lambda m: len(m.prefix), reverse=True)  # the longest prefix wins
        assert self.mounts and not self.mounts[-1].prefix, "one mount must take every other path"

    def of(self, path: str) -> Mount:
        for mount in self.mounts:  # a plain loop: this runs for every request
            if mount.holds(path):
                return mount
        raise AssertionError("the last mount takes every path")

    def response(self, path: str, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        sent, body = self.of(path).render(status, message)
        return Response(body, status_code=sent, headers=headers, media_type="application/json")


def render_exception(request: Request, exc: Exception) -> Response:
    mounts: Mounts = request.app.state.mounts
    path = request.scope["path"]
    if isinstance(exc, ServeError):
        return mounts.response(path, exc.status, exc.message, exc.headers)
    if isinstance(exc, RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors())
        return mounts.response(path, 422, problems or "invalid request")
    if isinstance(exc, HTTPException):
        return mounts.response(path, exc.status_code, str(exc.detail), dict(exc.headers or {}))
    request_id = request.headers.get("x-request-id") or request.scope.get("state", {}).get("request_id", "")
    logger.error("unhandled error (request %s)", request_id, exc_info=exc)
    return mounts.response(path, 500, f"internal error; request id {request_id}")


def install_error_handlers(app: FastAPI) -> None:
    async def handler(request: Request, exc: Exception) -> Response:
        return render_exception(request, exc)

    for exc_class in (ServeError, RequestValidationError, HTTPException, Exception):
        app.add_exception_handler(exc_class, handler)
