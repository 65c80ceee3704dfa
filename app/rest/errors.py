"""Every error becomes a response once, in the shape of the protocol its path belongs to (see
app/errors.py): the FastAPI exception handlers and the fast path both call `render_exception`."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from app.errors import ServeError, error_body, protocol_status

logger = logging.getLogger(__name__)


def error_response(path: str, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(error_body(path, message), status_code=protocol_status(path, status), headers=headers,
                    media_type="application/json")


def render_exception(request: Request, exc: Exception) -> Response:
    path = request.scope["path"]
    if isinstance(exc, ServeError):
        return error_response(path, exc.status, exc.message, exc.headers)
    if isinstance(exc, RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors())
        return error_response(path, 422, problems or "invalid request")
    if isinstance(exc, HTTPException):
        return error_response(path, exc.status_code, str(exc.detail), dict(exc.headers or {}))
    request_id = request.headers.get("x-request-id") or getattr(request.state, "request_id", "")
    logger.error("unhandled error (request %s)", request_id, exc_info=exc)
    return error_response(path, 500, f"internal error; request id {request_id}")


def install_error_handlers(app: FastAPI) -> None:
    async def handler(request: Request, exc: Exception) -> Response:
        return render_exception(request, exc)

    for exc_class in (ServeError, RequestValidationError, HTTPException, Exception):
        app.add_exception_handler(exc_class, handler)
