"""The service's edge, as one pure ASGI middleware: request ids, the body size limit, and the data
plane's record of each HTTP request (its `Call`, opened here and finished with the status sent).

One layer rather than three: each layer wraps `send` (and the limit wraps `receive`) for every
request, a cost the hot path feels. The body is counted only when no Content-Length says its size up front.

A body over the limit is answered 413 in the shape of its protocol, after reading and discarding
what the client still sends (up to DRAIN_BYTES and DRAIN_SECONDS): most HTTP clients send the whole
body before they read, and a server that closes on them mid-send leaves them a reset connection
instead of the 413. Past those bounds the connection is closed.
"""

from __future__ import annotations

import asyncio
import itertools
import os

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.dataplane import Call, Calls
from app.draining import Drain
from app.errors import PayloadTooLarge, code_of_status
from app.http.errors import Mounts
from app.http.protocol import client_gone, connection_of

REQUEST_ID = b"x-request-id"
CONTENT_LENGTH = b"content-length"
EXPECT = b"expect"
DRAIN_BYTES = 128 * 1024 * 1024
DRAIN_SECONDS = 10.0


async def drain(receive: Receive) -> bool:
    """Read and drop the rest of a request body; True when all of it came within the bounds."""
    drained = 0
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            while drained <= DRAIN_BYTES:
                message = await receive()
                if message["type"] != "http.request":
                    return False
                drained += len(message.get("body", b""))
                if not message.get("more_body", False):
                    return True
    except TimeoutError:
        pass
    return False


def call_of(scope: Scope) -> Call | None:
    """The data plane's record of this HTTP request, which the edge opened."""
    call: Call | None = scope.get("state", {}).get("call")
    return call


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int, calls: Calls, mounts: Mounts,
                 max_connection_requests: int = 0, drain: Drain | None = None) -> None:
        self.app = app
        self.drain = drain or Drain(0.0)
        self.max_body_bytes = max_body_bytes
        self.max_connection_requests = max_connection_requests
        self.calls = calls  # the data plane's
        self.mounts = mounts
        # Made ids: a random prefix per app (each worker process builds its own) and a counter, 32 hex
        # digits; unique without a system call for random bytes on every request.
        self._id_prefix = os.urandom(8).hex()
        self._ids = itertools.count()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        peer = scope.get("client")
        connection = connection_of(scope)  # what the server says of the connection (app/http/protocol.py)
        if connection is not None:
            connection["task"] = asyncio.current_task()  # cancelled if the client leaves before its answer
        call = self.calls.open(self.mounts.of(scope["path"]).protocol, "unmatched",
                               sole_connection=connection is not None and connection["count"] == 1,
                               client=peer[0] if peer else "")
        request_id = b""
        length: bytes | None = None
        for key, value in scope["headers"]:
            if key == REQUEST_ID:
                request_id = value[:128] if value.isascii() and value.strip() else b""
            elif key == CONTENT_LENGTH:
                length = value
        if not request_id:
            request_id = f"{self._id_prefix}{next(self._ids):016x}".encode()
            scope["headers"] = [*scope["headers"], (REQUEST_ID, request_id)]
        state = scope.setdefault("state", {})
        state["request_id"], state["call"] = request_id.decode(), call
        status = 500
        responded = False
        # An over-limit body that could not be drained leaves the connection unusable; a connection that has
        # carried its share of requests ends too, so the client's next one may land on another worker process;
        # and while the server drains, every connection ends, so that clients reconnect to another replica.
        close = self.drain.draining or (connection is not None
                                        and 0 < self.max_connection_requests <= connection["served"])
        received = 0

        async def edge_send(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status, responded = message["status"], True
                extra = [(REQUEST_ID, request_id), (b"connection", b"close")] if close else [(REQUEST_ID, request_id)]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        async def counting_receive() -> Message:
            nonlocal received, close
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    if message.get("more_body", False):
                        close = not await drain(receive)
                    raise PayloadTooLarge(self._too_large)
            return message

        try:
            if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
                if length.isdigit():
                    expects = any(k == EXPECT for k, _ in scope["headers"])  # 100-continue: nothing was sent
                    fits = int(length) <= DRAIN_BYTES
                    close = expects or not fits or not await drain(receive)
                    await self._refuse(scope, edge_send, 413, self._too_large)
                else:
                    close = True
                    await self._refuse(scope, edge_send, 400, "invalid Content-Length header")
            elif length is None and scope["method"] in ("POST", "PUT", "PATCH"):
                await self.app(scope, counting_receive, edge_send)
            else:
                await self.app(scope, receive, edge_send)
        except asyncio.CancelledError:
            if not client_gone(scope):
                raise
            # The server cancelled us because the client left: its work was dropped, there is no one to
            # answer, and the task ends normally (the call is recorded as cancelled below).
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
        except PayloadTooLarge as exc:  # raised by the counting receive where no handler answered it
            if not responded:
                await self._refuse(scope, edge_send, 413, exc.message)
        except Exception:
            # Starlette answers an unhandled error 500 (app/http/errors.py logs it with the request id) and
            # raises it again; past an answer, raising on would make the server log the same error twice.
            if not responded:
                raise
        finally:
            call.route = getattr(scope.get("route"), "path", "unmatched")
            # No answer started: the client went away (an error the app raised was answered 500 by now).
            call.finish(code_of_status(status) if responded else "cancelled")

    @property
    def _too_large(self) -> str:
        return f"request body exceeds {self.max_body_bytes} bytes"

    async def _refuse(self, scope: Scope, send: Send, status: int, message: str) -> None:
        sent, body = self.mounts.of(scope["path"]).render(status, message)
        await send({"type": "http.response.start", "status": sent, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
