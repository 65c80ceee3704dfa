"""One error type for everything a request can run into: it carries its HTTP status and headers.

Tasks, the data plane and the protocol adapters raise these; `error_body` and `protocol_status` say
how each protocol renders them (app/rest/errors.py and the edge middleware call them): `{"detail": ...}`
on the typed API, `{"error": ...}` under /v2 as the Open Inference Protocol says, with 422 answered as
400 there (the protocol has one status for bad input).
"""

from __future__ import annotations

import orjson

V2_PREFIX = "/v2"
RETRY_AFTER_S = "1"


class ServeError(Exception):
    status = 500

    def __init__(self, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class BadRequest(ServeError):
    """The body cannot be read at all: not JSON, not the protocol's framing."""

    status = 400


class Unauthorized(ServeError):
    status = 401

    def __init__(self, message: str = "missing or wrong API key") -> None:
        super().__init__(message, {"WWW-Authenticate": 'Bearer realm="seqserve"'})


class ModelNotFound(ServeError):
    status = 404


class Conflict(ServeError):
    """The request is well formed but does not fit the server's state (a stream state from another version)."""

    status = 409


class PayloadTooLarge(ServeError):
    """A body over the size limit, or an image over the pixel limit."""

    status = 413


class UnsupportedMediaType(ServeError):
    status = 415


class InputError(ServeError):
    """The request's content is unusable; the message says what and where."""

    status = 422


class QueueFull(ServeError):
    """The model's queue is full: answered at once, with a hint when to retry."""

    status = 503

    def __init__(self, message: str) -> None:
        super().__init__(f"overloaded: {message}; retry shortly", {"Retry-After": RETRY_AFTER_S})


class ModelUnavailable(ServeError):
    """The model version was being unloaded when the request reached it: another version may answer."""

    status = 503

    def __init__(self, message: str) -> None:
        super().__init__(f"{message}; retry", {"Retry-After": RETRY_AFTER_S})


class DeadlineExceeded(ServeError):
    status = 504


def is_v2(path: str) -> bool:
    return path == V2_PREFIX or path.startswith(V2_PREFIX + "/")


def protocol_status(path: str, status: int) -> int:
    return 400 if status == 422 and is_v2(path) else status


def error_body(path: str, message: str) -> bytes:
    """The error document of the protocol that `path` belongs to."""
    return orjson.dumps({"error" if is_v2(path) else "detail": message})
