"""One error type for everything a request can run into: it carries its HTTP status, its canonical code
and its headers.

Tasks, the data plane and the protocol adapters raise these; each protocol package renders them in its
own shape (app/rest/errors.py, app/v2/errors.py, app/grpc/server.py, app/websocket/). The canonical codes
are google.rpc.Code's names in lower case: the one outcome vocabulary the metrics use for every protocol,
and the name of the gRPC status a `ServeError` becomes.
"""

from __future__ import annotations

RETRY_AFTER_S = "1"

# HTTP status -> canonical code, the one status table; 2xx and 3xx are "ok".
CODES = {
    400: "invalid_argument", 401: "unauthenticated", 403: "permission_denied", 404: "not_found",
    405: "unimplemented", 409: "failed_precondition", 413: "resource_exhausted", 415: "invalid_argument",
    422: "invalid_argument", 429: "resource_exhausted", 499: "cancelled", 500: "internal", 501: "unimplemented",
    503: "unavailable", 504: "deadline_exceeded",
}
OUTCOMES = ("ok", *sorted(set(CODES.values())))


def code_of_status(status: int) -> str:
    """The canonical code of an HTTP status (what a response that no `ServeError` made counts as)."""
    if status < 400:
        return "ok"
    return CODES.get(status, "invalid_argument" if status < 500 else "internal")


class ServeError(Exception):
    status = 500

    def __init__(self, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}

    @property
    def code(self) -> str:
        return code_of_status(self.status)


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


class TooManyRequests(ServeError):
    """This client has used its share (of a model's queue, of the sequences): answered at once; other
    clients are still served."""

    status = 429

    def __init__(self, message: str) -> None:
        super().__init__(message, {"Retry-After": RETRY_AFTER_S})


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


def code_of(exc: BaseException) -> str:
    """The canonical code of whatever a request raised: its own for a `ServeError`, else internal."""
    return exc.code if isinstance(exc, ServeError) else "internal"
