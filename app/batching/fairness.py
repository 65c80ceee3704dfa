"""A model's queue, shared fairly between clients: admission by share, and start-time fair queueing.

Admission (`admit`), for a request of `size` items from `client`:
- over `request_items` (a bounded share of the queue) it is refused outright: it could take the queue alone;
- a client whose queued items would pass `client_items` is refused for now (429): it is over its share;
- a queue with no room is full for everyone (503).
Order (`peek`, `pop`): each client's requests stay first in, first out, and the queue serves the client whose
next request has the earliest start tag (start-time fair queueing, Goyal et al. 1996): a client's tag
moves on by the items it sent, so a client that sends a little is served ahead of one that sent a lot, and
no client waits behind more than one turn of each other's.

Not thread-safe: the batcher holds its lock around every call.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar


class Queued(Protocol):
    client: str
    size: int
    start: float  # the start tag, set by `push`


Q = TypeVar("Q", bound=Queued)


@dataclass
class _Client(Generic[Q]):
    queue: deque[Q] = field(default_factory=deque)
    items: int = 0  # queued, not yet taken
    finish: float = 0.0  # the finish tag of its latest request


class FairQueue(Generic[Q]):
    # Refusal reasons: the metrics' label, and what each means to a caller.
    REQUEST_TOO_LARGE = "request_too_large"
    CLIENT_SHARE = "client_share"
    QUEUE_FULL = "queue_full"

    def __init__(self, capacity: int, request_items: int, client_items: int) -> None:
        self.capacity = capacity
        self.request_items = request_items
        self.client_items = client_items
        self.items = 0  # queued over every client
        self._clients: dict[str, _Client[Q]] = {}
        # One entry per client with requests queued, for its first: (start tag, size, arrival, client), so
        # the next request is found in O(log clients) however many clients wait.
        self._heads: list[tuple[float, int, int, str]] = []
        self._arrivals = itertools.count()
        self._now = 0.0  # virtual time: the start tag of the request taken last

    def __bool__(self) -> bool:
        return bool(self._clients)

    def admit(self, client: str, size: int) -> str | None:
        """Why a request may not queue now (one of the reasons above), or None when it may."""
        if size > self.request_items:
            return self.REQUEST_TOO_LARGE
        held = self._clients.get(client)
        # A share as big as the queue is no share: filling it is the queue being full.
        if held is not None and held.items + size > self.client_items and self.client_items < self.capacity:
            return self.CLIENT_SHARE
        if self.items + size > self.capacity:
            return self.QUEUE_FULL
        return None

    def client_queued(self, client: str) -> int:
        held = self._clients.get(client)
        return held.items if held is not None else 0

    def push(self, request: Q) -> None:
        held = self._clients.get(request.client)
        if held is None:
            held = self._clients[request.client] = _Client(finish=self._now)
        request.start = max(self._now, held.finish)
        held.finish = request.start + request.size
        held.queue.append(request)
        held.items += request.size
        self.items += request.size
        if len(held.queue) == 1:
            self._enter(request)

    def _enter(self, head: Q) -> None:
        heapq.heappush(self._heads, (head.start, head.size, next(self._arrivals), head.client))

    def peek(self) -> Q | None:
        """The request served next: the earliest start tag over the clients' first requests (on a tie, the
        smaller request, then the one that came first)."""
        return self._clients[self._heads[0][3]].queue[0] if self._heads else None

    def pop(self, request: Q) -> None:
        """Take `request`, which `peek` gave."""
        heapq.heappop(self._heads)
        held = self._clients[request.client]
        held.queue.popleft()
        held.items -= request.size
        self.items -= request.size
        self._now = request.start
        if held.queue:
            self._enter(held.queue[0])
        else:  # an idle client keeps no entry: it comes back at the current virtual time
            del self._clients[request.client]

    def forget(self, request: Q) -> None:
        """A queued request that will not run (timed out, cancelled): its items stop counting now; it stays
        in line and is dropped when its turn comes."""
        held = self._clients.get(request.client)
        if held is not None:
            held.items -= request.size
        self.items -= request.size
        request.size = 0

    def drain(self) -> list[Q]:
        """Every queued request, in no particular order, leaving the queue empty."""
        requests = [request for held in self._clients.values() for request in held.queue]
        self._clients.clear()
        self._heads.clear()
        self.items = 0
        return requests
