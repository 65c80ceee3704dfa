"""Whether the process serves one request at a time: what lets a batcher run a lone request inline."""

from __future__ import annotations

import time


class Activity:
    """Whether the process serves one request at a time, kept by the data plane's calls (`enter`, `leave`).

    A batch runs on the event loop only when it holds every request in flight and no two requests have
    overlapped for `quiet_s`: under any concurrency the loop is better spent on the other requests' HTTP
    work while the worker thread runs the model (running both on the loop serialises them). One look at
    the moment would not do: under concurrency requests often arrive one loop turn apart, each alone
    when it is batched.

    `sole_connection` says whether the request that entered last came over the process's only open
    connection (the HTTP edge knows, app/http/protocol.py). Only such a request may run without yielding
    to the loop: with other connections open, their requests may be waiting unread, and a request that
    never yields would keep them from being seen."""

    def __init__(self, quiet_s: float = 0.1) -> None:
        self.requests = 0
        self.quiet_s = quiet_s
        self._last_overlap = -quiet_s
        self.sole_connection = False

    def enter(self, sole_connection: bool = False) -> None:
        self.requests += 1
        self.sole_connection = sole_connection
        if self.requests > 1:
            self._last_overlap = time.monotonic()

    def leave(self) -> None:
        self.requests -= 1

    def alone(self, requests: int) -> bool:
        """True when these `requests` are all the process is serving, and it has been serving one at a time."""
        return self.requests <= requests and time.monotonic() - self._last_overlap > self.quiet_s
