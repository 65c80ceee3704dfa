"""The Open Inference Protocol's sequence parameters for stateful models: state kept server-side, per
process, under the client's `sequence_id`.

`sequence_start` begins a sequence (fresh state), later requests with the same id continue it,
`sequence_end` forgets it after its step. A sequence unused for `sequence_ttl_min` minutes is forgotten
(before any count is taken, so an idle one never holds a place). Each client (app/auth.py) may keep at
most `max_client_sequences` live: a start past it is refused with 429 while other clients still start
theirs; past `max_sequences` live in all a new start is refused (503). The state lives in the process that served
the start: with several workers or replicas route a sequence to one of them, or use the typed streaming
route, whose state token any process takes.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.errors import BadRequest, QueueFull, TooManyRequests


class SequenceObserver:
    """Hooks for metrics; the default does nothing."""

    def refuse(self, model: str, reason: str) -> None:
        """A sequence start refused, for `reason` (CLIENT_QUOTA or FULL)."""

    def expired(self, model: str) -> None:
        """A sequence of `model` forgotten after idling past the TTL."""

    def live(self, model: str, count: int) -> None:
        """`model` now has `count` live sequences in this process."""


@dataclass
class Sequence:
    model: str  # the model version key that started it
    client: str  # who started it: the quota it counts against
    state: Any
    used: float  # monotonic


@dataclass(frozen=True)
class SequenceRequest:
    id: str
    start: bool
    end: bool


def sequence_request(parameters: dict[str, Any]) -> SequenceRequest | None:
    """The sequence parameters of a request, checked; None when it names no sequence."""
    raw = parameters.get("sequence_id")
    if raw in (None, 0, ""):
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise BadRequest(f"parameter 'sequence_id' must be a non-zero integer or a non-empty string, got {raw!r}")
    flags = {}
    for name in ("sequence_start", "sequence_end"):
        value = parameters.get(name, False)
        if not isinstance(value, bool):
            raise BadRequest(f"parameter {name!r} must be true or false, got {value!r}")
        flags[name] = value
    return SequenceRequest(str(raw), flags["sequence_start"], flags["sequence_end"])


class SequenceStore:
    CLIENT_QUOTA = "client_sequences"  # refusal reasons, as the metrics label them
    FULL = "sequences_full"

    def __init__(self, ttl_s: float, capacity: int, per_client: int | None = None,
                 clock: Callable[[], float] = time.monotonic, observer: SequenceObserver | None = None) -> None:
        self.ttl_s = ttl_s
        self.capacity = capacity
        self.per_client = per_client or capacity
        self.clock = clock
        self._observer = observer or SequenceObserver()
        self._live: OrderedDict[str, Sequence] = OrderedDict()  # least recently used first
        self._by_client: dict[str, int] = {}
        self._by_model: dict[str, int] = {}

    def __len__(self) -> int:
        self._expire(self.clock())
        return len(self._live)

    def live_of(self, client: str) -> int:
        self._expire(self.clock())
        return self._by_client.get(client, 0)

    def _expire(self, now: float) -> None:
        while self._live:
            key, oldest = next(iter(self._live.items()))
            if now - oldest.used <= self.ttl_s:
                return
            self._forget(key)
            self._observer.expired(oldest.model)

    def _forget(self, key: str) -> None:
        sequence = self._live.pop(key, None)
        if sequence is not None:
            _count(self._by_client, sequence.client, -1)
            self._observer.live(sequence.model, _count(self._by_model, sequence.model, -1))

    def begin(self, request: SequenceRequest, model: str, initial: Any, client: str = "") -> Any:
        """The state a request's step runs on: fresh for a start, else the sequence's own."""
        now = self.clock()
        self._expire(now)
        key = f"{model}\x00{request.id}"
        if request.start:
            restart = self._live.get(key)
            if restart is None or restart.client != client:  # a new place for this client
                held = self._by_client.get(client, 0)
                if held >= self.per_client and self.per_client < self.capacity:  # else: the capacity decides
                    self._observer.refuse(model, self.CLIENT_QUOTA)
                    raise TooManyRequests(f"this client has {held} live sequences, its quota; end one "
                                          f"(sequence_end) or let one idle past {self.ttl_s / 60:g} min")
                if restart is None and len(self._live) >= self.capacity:
                    self._observer.refuse(model, self.FULL)
                    raise QueueFull(f"{len(self._live)} sequences are live, the most this process keeps")
            return initial
        sequence = self._live.get(key)
        if sequence is None:
            raise BadRequest(f"sequence {request.id!r} of model {model} is not live here: never started "
                             f"(sequence_start), ended, idle past {self.ttl_s / 60:g} min, or started on "
                             "another process")
        return sequence.state

    def keep(self, request: SequenceRequest, model: str, state: Any, client: str = "") -> None:
        key = f"{model}\x00{request.id}"
        current = self._live.get(key)
        if request.end or (request.start and current is not None):
            self._forget(key)  # ended, or started again: the start's client holds it from now
            current = None
        if request.end:
            return
        if current is None:
            current = Sequence(model, client, state, self.clock())
            _count(self._by_client, client, 1)
            self._observer.live(model, _count(self._by_model, model, 1))
        current.state, current.used = state, self.clock()
        self._live[key] = current
        self._live.move_to_end(key)


def _count(counts: dict[str, int], key: str, change: int) -> int:
    """Move a count by `change`; a count of 0 leaves no entry. The new count."""
    left = counts.get(key, 0) + change
    if left:
        counts[key] = left
    else:
        counts.pop(key, None)
    return left
