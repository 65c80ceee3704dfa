"""Every failure a client can cause becomes a 4xx with a message; overload becomes 503/504, not a queue."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from app.batching.batcher import DeadlineExceeded, QueueFull
from app.processing.images import ImageError, ImageTooLarge
from app.repository.registry import ModelNotFound
from app.rest.middleware import BodyTooLarge
from app.rest.responses import error_response
from app.tasks.base import InputError

logger = logging.getLogger(__name__)

RETRY_AFTER_S = "1"


class BodyError(Exception):
    """The body itself is unusable (not JSON, wrong content type); carries its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(InputError)
    async def input_error(_: Request, exc: InputError) -> Response:
        return error_response(422, str(exc))

    @app.exception_handler(ImageError)
    async def image_error(_: Request, exc: ImageError) -> Response:
        return error_response(413 if isinstance(exc, ImageTooLarge) else 422, str(exc))

    @app.exception_handler(BodyError)
    async def body_error(_: Request, exc: BodyError) -> Response:
        return error_response(exc.status, str(exc))

    @app.exception_handler(BodyTooLarge)
    async def body_too_large(_: Request, exc: BodyTooLarge) -> Response:
        return error_response(413, str(exc))

    @app.exception_handler(ModelNotFound)
    async def model_not_found(_: Request, exc: ModelNotFound) -> Response:
        return error_response(404, str(exc))

    @app.exception_handler(QueueFull)
    async def queue_full(_: Request, exc: QueueFull) -> Response:
        return error_response(503, f"overloaded: {exc}; retry shortly", {"Retry-After": RETRY_AFTER_S})

    @app.exception_handler(DeadlineExceeded)
    async def deadline(_: Request, exc: DeadlineExceeded) -> Response:
        return error_response(504, str(exc))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors()
        )
        return error_response(422, problems or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        return error_response(exc.status_code, str(exc.detail), dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        request_id = request.headers.get("x-request-id") or getattr(request.state, "request_id", "")
        logger.exception("unhandled error (request %s)", request_id)
        return error_response(500, f"internal error; request id {request_id}")
