"""uvicorn's httptools protocol, sending each response's head and body in one write.

uvicorn writes a response's status line and headers when the app starts the response, and its body
when the app sends it: two send() system calls, two packets, two wake-ups of the client, per response,
a large share of the event loop's time under load (docs/benchmarks.md). This protocol holds a
response's head until the first write after it (the body, normally in the same loop turn) and sends the
two together; what the client receives, byte for byte, does not change.

It also tells the app about the connection (`connection_of`): how many connections the process held open
when a request's head arrived (over the only open one, no other request can be waiting unread, so a lone
request may run to its answer without yielding to the event loop: app/batching/activity.py), and how many
requests this connection has carried (the app ends it after a bounded number: app/http/edge.py). When a
client goes away before its answer starts, the task the app registered for the request is cancelled:
its queued work is dropped unrun.

A head is held only where nothing can be waiting for it: not when the client asked for `100 Continue`
(that interim line is written on its own and must go out at once), and it is sent as soon as anything
else happens to the connection (another write, the end of the response, a close). A streamed response's
head goes out with its first chunk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

JOIN_LIMIT = 64 * 1024  # a body up to this size is copied behind its head; a bigger one is written after it
OPEN_CONNECTIONS = "seqserve.open_connections"  # scope["extensions"] key: {"count", "served", "task"}


def connection_of(scope: Any) -> dict[str, Any] | None:
    """What the server says of this request's connection, in one look-up for the hot path: `count` (open
    connections), `served` (requests it carried), and a `task` the app may set for the server to cancel
    if the client goes away before its answer starts. None under another server."""
    extension: dict[str, Any] | None = scope.get("extensions", {}).get(OPEN_CONNECTIONS)
    return extension


def client_gone(scope: Any) -> bool:
    """Whether the server cancelled this request because its client went away."""
    extension = scope.get("extensions", {}).get(OPEN_CONNECTIONS)
    return bool(extension is not None and extension.get("gone"))


class HeldHeadTransport:
    """The transport as one request-response cycle sees it: its first write (the response head) is held
    until the next write, the end of the response, or a close. Anything else goes to the transport."""

    __slots__ = ("_first", "_head", "_transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._head: bytes | None = None
        self._first = True

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._first:
            self._first = False
            self._head = bytes(data)
            return
        head, self._head = self._head, None
        if head is None:
            self._transport.write(data)
        elif len(data) <= JOIN_LIMIT:
            self._transport.write(head + data)
        else:
            self._transport.write(head)
            self._transport.write(data)

    def flush(self) -> None:
        self._first = False
        head, self._head = self._head, None
        if head is not None:
            self._transport.write(head)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class HttpProtocol(HttpToolsProtocol):
    """`uvicorn.run(..., http=HttpProtocol)`: every new cycle writes through a `HeldHeadTransport`, and its
    scope says how many connections are open."""

    served = 0  # requests this connection has carried

    def on_headers_complete(self) -> None:
        previous = self.cycle
        self.served += 1
        self.scope.setdefault("extensions", {})[OPEN_CONNECTIONS] = {"count": len(self.connections),
                                                                     "served": self.served}
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is previous or cycle.waiting_for_100_continue:  # an upgrade made no cycle; 100 Continue waits
            return
        held = HeldHeadTransport(cycle.transport)
        cycle.transport = held  # type: ignore[assignment]  # the subset of a transport a cycle uses
        cycle.on_response = _flushing(held, cycle.on_response)

    def connection_lost(self, exc: Exception | None) -> None:
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:  # the client left before its answer
            scope: Any = cycle.scope
            extension = scope.get("extensions", {}).get(OPEN_CONNECTIONS) or {}
            task: asyncio.Task[Any] | None = extension.get("task")
            if task is not None and not task.done():
                extension["gone"] = True
                task.cancel()
        super().connection_lost(exc)


def _flushing(held: HeldHeadTransport, on_response: Callable[..., None]) -> Callable[[], None]:
    """A response that ends without a body write (HEAD) still sends its head."""

    def response_complete() -> None:
        held.flush()
        on_response()

    return response_complete
