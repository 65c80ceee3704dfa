"""The Open Inference Protocol's sequence parameters for stateful models: state kept server-side, per
process, under the client's `sequence_id`.

`sequence_start` begins a sequence (fresh state), later requests with the same id continue it,
`sequence_end` forgets it after its step. A sequence unused for `sequence_ttl_min` minutes is forgotten;
past `max_sequences` live ones a new start is refused (503). The state lives in the process that served
the start: with several workers or replicas route a sequence to one of them, or use the typed streaming
route, whose state token any process takes.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.errors import BadRequest, QueueFull


@dataclass
class Sequence:
    model: str  # the model version key that started it
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
    def __init__(self, ttl_s: float, capacity: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.capacity = capacity
        self.clock = clock
        self._live: OrderedDict[str, Sequence] = OrderedDict()  # least recently used first

    def __len__(self) -> int:
        return len(self._live)

    def _expire(self, now: float) -> None:
        while self._live:
            key, oldest = next(iter(self._live.items()))
            if now - oldest.used <= self.ttl_s:
                return
            del self._live[key]

    def begin(self, request: SequenceRequest, model: str, initial: Any) -> Any:
        """The state a request's step runs on: fresh for a start, else the sequence's own."""
        now = self.clock()
        self._expire(now)
        key = f"{model}\x00{request.id}"
        if request.start:
            if key not in self._live and len(self._live) >= self.capacity:
                raise QueueFull(f"{len(self._live)} sequences are live, the most this process keeps")
            return initial
        sequence = self._live.get(key)
        if sequence is None:
            raise BadRequest(f"sequence {request.id!r} of model {model} is not live here: never started "
                             f"(sequence_start), ended, idle past {self.ttl_s / 60:g} min, or started on "
                             "another process")
        return sequence.state

    def keep(self, request: SequenceRequest, model: str, state: Any) -> None:
        key = f"{model}\x00{request.id}"
        if request.end:
            self._live.pop(key, None)
            return
        self._live[key] = Sequence(model, state, self.clock())
        self._live.move_to_end(key)
