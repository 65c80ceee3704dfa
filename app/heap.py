"""Garbage collection for a heap that is mostly loaded once: modules, graphs, sessions.

With CPython's defaults, under load the collector re-walks everything alive after loading and walks
the parsed bodies of every request in flight many times a second (docs/benchmarks.md has the numbers).
Requests free their own objects by reference counting; the collector is only for cycles.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000  # allocations between young collections (CPython's default: 700)


def settle() -> tuple[int, int, int]:
    """Once the models are loaded: freeze what is alive (no collection walks it again) and collect the
    young generation less often. Returns the thresholds it replaced, for `unsettle`."""
    previous = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, previous[1], previous[2])
    return previous


def unsettle(previous: tuple[int, int, int]) -> None:
    """At shutdown (or an app's end in a longer process, e.g. tests): frozen objects become collectable again."""
    gc.unfreeze()
    gc.set_threshold(*previous)
