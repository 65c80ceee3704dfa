"""A request as every protocol counts it: opened when it arrives, finished once with its outcome.

The data plane opens a `Call` for each request of any protocol (an HTTP request, a gRPC call or each
message of a gRPC stream, a WebSocket frame); finding the model names its model and version, and
finishing it records `(protocol, route, model, version, outcome, seconds)` once and tells the batchers'
`Activity` that the request left. Outcomes are canonical codes (app/errors.py), the same for every protocol.
"""

from __future__ import annotations

import asyncio
import time
from types import TracebackType

from app.batching.activity import Activity
from app.errors import code_of
from app.metrics import Metrics


class Call:
    __slots__ = ("_calls", "_done", "client", "model", "outcome", "protocol", "route", "started", "version")

    def __init__(self, calls: Calls, protocol: str, route: str, client: str = "") -> None:
        self._calls = calls
        self._done = False
        self.protocol = protocol
        self.route = route
        self.client = client  # who sent it: a named API key's name, else the peer's address (app/auth.py)
        self.model = ""
        self.version = ""
        self.outcome: str | None = None  # set by a failure; "ok" when finished without one
        self.started = time.perf_counter()

    def found(self, name: str, version: int) -> None:
        self.model, self.version = name, str(version)

    def fail(self, exc: BaseException) -> None:
        self.outcome = "cancelled" if isinstance(exc, asyncio.CancelledError) else code_of(exc)

    def finish(self, outcome: str | None = None) -> None:
        """Record the call (once: a second finish does nothing); `outcome` overrides a recorded failure."""
        if self._done:
            return
        self._done = True
        self._calls.close(self, outcome or self.outcome or "ok")

    def __enter__(self) -> Call:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if exc is not None:
            self.fail(exc)
        self.finish()


class Calls:
    """Opens and records calls: the process's one request counter and activity tracker."""

    def __init__(self, metrics: Metrics, activity: Activity) -> None:
        self.metrics = metrics
        self.activity = activity
        metrics.watch_in_flight(lambda: activity.requests)

    def open(self, protocol: str, route: str, sole_connection: bool = False, client: str = "") -> Call:
        """`sole_connection`: the request came over the process's only open connection (app/http/protocol.py)."""
        self.activity.enter(sole_connection)
        self.metrics.requests_in_flight(self.activity.requests)
        return Call(self, protocol, route, client)

    def close(self, call: Call, outcome: str) -> None:
        self.activity.leave()
        self.metrics.requests_in_flight(self.activity.requests)
        self.metrics.request_done(call.protocol, call.route, call.model, call.version, outcome,
                                  time.perf_counter() - call.started)
