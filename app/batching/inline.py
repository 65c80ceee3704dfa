"""Which batches may run on the event loop instead of the worker thread.

A batch runs inline when its learnt cost is within a bound and the process serves only its requests
(`Activity`): a lone request then pays no thread hand-off (two cross-thread wake-ups, which on some
machines cost as much as the model), while under concurrency the loop is better spent on the other
requests' I/O. The cost is learnt per model as seconds per unit of work; work whose cost is not known yet,
or is above the bound, goes to the worker thread, so the loop is never held longer than the bound.
"""

from __future__ import annotations

from app.batching.activity import Activity


class InlinePolicy:
    def __init__(self, bound_s: float, activity: Activity | None) -> None:
        self.bound_s = bound_s
        self.activity = activity
        self.seconds_per_work: float | None = None  # learnt from runs; None until one was measured

    def allows(self, work: int, requests: int) -> bool:
        """Whether `work` for these `requests` may run on the loop (the caller knows nothing else is queued)."""
        rate = self.seconds_per_work
        return (rate is not None and rate * work <= self.bound_s
                and (self.activity is None or self.activity.alone(requests)))

    @property
    def sole_connection(self) -> bool:
        """The request that entered last came over the process's only open connection: it may run to its
        answer without yielding, since no other request can be waiting unread."""
        return self.activity is not None and self.activity.sole_connection

    def learn(self, work: int, seconds: float) -> None:
        # Only runs near the bound teach the rate: big batches are cheaper per item and would make small
        # ones look cheaper than they are. A model too slow for the bound never learns one, so never runs inline.
        if work > 0 and seconds <= 4 * self.bound_s:
            sample = seconds / work
            rate = self.seconds_per_work
            self.seconds_per_work = sample if rate is None else 0.8 * rate + 0.2 * sample
