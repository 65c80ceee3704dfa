"""One batcher per model: a bounded queue, a collector task, and one worker thread that runs batches.

A batch takes whatever is queued (up to max_batch_size items), optionally waiting max_batch_delay for
more. While a batch runs, new requests queue up and form the next batch, so concurrency alone makes
batches without adding a fixed delay to a lone request. One thread hand-off per batch, not per request.

The worker thread takes the next batch itself when it finishes one, and hands results back to the loop
without waiting for it: a busy event loop runs a thread's "done" callback only after the callbacks queued
before it, and when the next batch waited for that the model stood idle between runs under load
(docs/benchmarks.md). The queue is shared under a lock for that. A batch the worker takes this way holds
what queued while the previous one ran (max_batch_delay is for a batch the collector starts: those
requests have waited a whole run already).

A small batch runs inline, on the event loop, when nothing else is queued and `InlinePolicy`
(app/batching/inline.py) allows it: its learnt cost within `inline_max_s`, the process serving only it.
The cost is learnt per unit of work (`work_of`: items, or what a task says). A lone request that may run
inline and came over the only open connection (`Activity.sole_connection`) runs within `submit` itself,
without queueing for the collector: its task never yields, which saves two turns of the event loop.

The queue is shared between clients (app/batching/fairness.py): a request over its bounded share of the
queue is refused (413), a client over its share is told to come back (429), and batches are taken fairly between
clients. A request bigger than half a batch is split (`split`, `join`) into parts that queue on their own,
so one big request holds the model no longer than one batch at a time and others ride beside its parts.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from app.batching.activity import Activity
from app.batching.fairness import FairQueue
from app.batching.inline import InlinePolicy
from app.batching.statistics import Duration, Statistics
from app.errors import DeadlineExceeded, ModelUnavailable, PayloadTooLarge, QueueFull, ServeError, TooManyRequests

P = TypeVar("P")
R = TypeVar("R")


class BatchObserver:
    """Hooks for metrics; the default does nothing."""

    def batch_done(self, model: str, items: int, seconds: float, inline: bool) -> None: ...

    def refuse(self, model: str, reason: str) -> None:
        """A request refused before queueing, for `reason` (FairQueue's)."""

    def drop(self, model: str, reason: str) -> None:
        """A queued request dropped unrun at its turn: its caller went away (`cancelled`: a client that
        disconnected or cancelled) or its deadline passed (`deadline`). May be called from the worker thread."""

    def watch_queue(self, model: str, queued_items: Callable[[], int]) -> None:
        """Called once per batcher: `queued_items` says its queue depth whenever asked (a scrape), so
        requests pay nothing to keep a gauge current."""


@dataclass
class _Pending(Generic[P, R]):
    payload: P
    size: int
    future: asyncio.Future[R] = field(repr=False)
    queued_at: float = 0.0  # perf_counter
    client: str = ""
    start: float = 0.0  # the fair queue's start tag
    taken: bool = False  # popped for a batch (by the collector or the worker thread)


@dataclass
class _Run(Generic[P, R]):
    """One model run over a batch: its results, or the error it raised."""

    batch: list[_Pending[P, R]]
    items: int
    work: int
    seconds: float
    results: list[R] | None = None
    error: Exception | None = None


class Batcher(Generic[P, R]):
    def __init__(
        self,
        name: str,
        run_batch: Callable[[list[P]], list[R]],
        size_of: Callable[[P], int],
        max_batch_size: int,
        max_batch_delay_s: float,
        max_queue_items: int,
        observer: BatchObserver | None = None,
        inline_max_s: float = 0.0,
        work_of: Callable[[P], int] | None = None,
        activity: Activity | None = None,
        max_request_items: int | None = None,
        max_client_items: int | None = None,
        split: Callable[[P, int], list[P]] | None = None,
        join: Callable[[list[R]], R] | None = None,
    ) -> None:
        self.name = name
        self._run_batch = run_batch
        self._size_of = size_of
        self._work_of = work_of or size_of
        self.inline = InlinePolicy(inline_max_s, activity)
        self.max_batch_size = max_batch_size
        self.max_batch_delay_s = max_batch_delay_s
        self._observer = observer or BatchObserver()
        request_items = max_request_items or max_queue_items
        self._queue: FairQueue[_Pending[P, R]] = FairQueue(max_queue_items, request_items,
                                                          max(request_items, max_client_items or max_queue_items))
        self._split = split
        self._join = join
        self._observer.watch_queue(name, lambda: self._queue.items)
        self._lock = threading.Lock()  # the queue and its count: the worker thread takes batches too
        self._wakeup = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"infer-{name}")
        self._task: asyncio.Task[None] | None = None
        self._in_flight = 0  # submitted and not yet answered
        self._running = False  # the collector has a batch out (a timed-out request's included)
        self._closing = False
        self._drained: asyncio.Future[None] | None = None  # made by close(), set when nothing is in flight
        self.statistics = Statistics()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._collect(), name=f"batcher-{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with self._lock:
            queued = self._queue.drain()
        for pending in queued:
            if not pending.future.done():
                pending.future.cancel()
        self._executor.shutdown(wait=True)

    async def close(self) -> None:
        """Take no new requests, answer those already submitted, then stop: an unload loses no request."""
        self._closing = True
        if self._in_flight:
            self._drained = asyncio.get_running_loop().create_future()
            await self._drained
        await self.stop()

    async def submit(self, payload: P, timeout_s: float, client: str = "") -> R:
        """Queue a payload for `client` (who sent it: fairness is between clients) and wait for its result."""
        if self._closing:
            raise ModelUnavailable(f"model {self.name!r} is being unloaded")
        size = self._size_of(payload)
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        pending = _Pending(payload, size, future, started, client)
        parts = [pending]
        deadline: asyncio.TimerHandle | None = None
        if (self.inline.sole_connection and not self._in_flight and not self._running
                and size <= self.max_batch_size and self._inline_allowed(self._work_of(payload), 1)):
            pending.taken = True  # never queued: answered (its future done) before the first await
            self.statistics.queue.add(0.0)
            self._finish(self._execute([pending], size), inline=True)
        else:
            # Parts of half a batch: each batch keeps room for other clients' requests beside one part.
            part_items = max(1, self.max_batch_size // 2)
            pieces = self._split(payload, part_items) if size > part_items and self._split is not None else []
            if len(pieces) > 1:
                parts = [_Pending(piece, self._size_of(piece), loop.create_future(), started, client)
                         for piece in pieces]
            with self._lock:
                refusal = self._queue.admit(client, size)
                if refusal is None:
                    for part in parts:
                        self._queue.push(part)
                else:
                    queued, held = self._queue.items, self._queue.client_queued(client)
            if refusal is not None:
                self.statistics.fail.add(0.0)
                self._observer.refuse(self.name, refusal)
                raise self._refusal(refusal, size, queued, held)
            self._wakeup.set()
            # The deadline fails the futures itself: a bare timer, cheaper per request than asyncio.timeout.
            deadline = loop.call_later(timeout_s, _expire, [part.future for part in parts], self.name, timeout_s)
        self._in_flight += 1
        try:
            if len(parts) == 1:
                result = await future  # a done future: no yield
            else:
                assert self._join is not None
                result = self._join([await part.future for part in parts])
        except BaseException:
            self.statistics.fail.add(time.perf_counter() - started)
            raise
        else:
            self.statistics.success.add(time.perf_counter() - started)
            return result
        finally:
            if deadline is not None:
                deadline.cancel()
            self._in_flight -= 1
            if not self._in_flight and self._drained is not None and not self._drained.done():
                self._drained.set_result(None)
            # Timed out, cancelled, or a part failed: what is still queued is dropped when its turn comes,
            # but its items stop counting against the queue now; what already runs has its result discarded.
            for part in parts:
                if not part.taken:
                    with self._lock:
                        if not part.taken:
                            self._queue.forget(part)
                    if not part.future.done():
                        part.future.cancel()

    def _refusal(self, reason: str, size: int, queued: int, held: int) -> ServeError:
        queue = self._queue
        if reason == FairQueue.REQUEST_TOO_LARGE:
            return PayloadTooLarge(f"the request counts {size} queue items (items x beams); one request to model "
                                   f"{self.name!r} may count at most {queue.request_items}: send it in parts")
        if reason == FairQueue.CLIENT_SHARE:
            return TooManyRequests(f"this client has {held} items queued for model {self.name!r}; with {size} "
                                   f"more it passes its share of {queue.client_items}; retry once they are answered")
        return QueueFull(f"model {self.name!r} has {queued} items queued")

    def _take(self, batch: list[_Pending[P, R]], items: int) -> int:
        """Move queued requests into `batch` up to the batch size, fairly between clients (from the loop or
        the worker thread)."""
        queue = self._queue
        with self._lock:
            while (pending := queue.peek()) is not None and (not batch or items + pending.size <= self.max_batch_size):
                queue.pop(pending)
                pending.taken = True
                if pending.future.done():  # timed out or cancelled while queued: dropped unrun
                    self._observer.drop(self.name, "cancelled" if pending.future.cancelled() else "deadline")
                    continue
                self.statistics.queue.add(time.perf_counter() - pending.queued_at)
                batch.append(pending)
                items += pending.size
        return items

    async def _collect(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
            batch: list[_Pending[P, R]] = []
            items = self._take(batch, 0)
            if self.max_batch_delay_s > 0 and items < self.max_batch_size:
                deadline = loop.time() + self.max_batch_delay_s
                while items < self.max_batch_size and (remaining := deadline - loop.time()) > 0:
                    self._wakeup.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wakeup.wait(), remaining)
                    items = self._take(batch, items)
            if batch:
                self._running = True  # until the worker thread has emptied the queue: no inline run meanwhile
                try:
                    await self._run(batch, items)
                finally:
                    self._running = False

    async def _run(self, batch: list[_Pending[P, R]], items: int) -> None:
        work = sum(self._work_of(pending.payload) for pending in batch)
        if self._inline_allowed(work, len(batch)):
            self._finish(self._execute(batch, items), inline=True)
        else:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._executor, self._work, batch, items, loop)

    @property
    def inline_max_s(self) -> float:
        return self.inline.bound_s

    @inline_max_s.setter
    def inline_max_s(self, bound_s: float) -> None:
        self.inline.bound_s = bound_s

    def _inline_allowed(self, work: int, requests: int) -> bool:
        """Whether `work` for these `requests` may run on the event loop: nothing else queued, and the policy agrees."""
        return not self._queue and self.inline.allows(work, requests)

    def _work(self, batch: list[_Pending[P, R]], items: int, loop: asyncio.AbstractEventLoop) -> None:
        """The worker thread: run this batch, then each batch queued meanwhile, until the queue is empty;
        each one's results go to the loop as they come. The next batch is taken before the results are
        handed over, so a request that follows an answer is the collector's to place (inline or not)."""
        while batch:
            runs = self._execute(batch, items)
            batch = []
            items = self._take(batch, 0)
            loop.call_soon_threadsafe(self._finish, runs, False)

    def _execute(self, batch: list[_Pending[P, R]], items: int) -> list[_Run[P, R]]:
        """Run a batch. One bad payload must not fail its batch-mates: a failed batch of several runs
        again one payload at a time, so that only the bad one fails."""
        payloads = [pending.payload for pending in batch]
        work = sum(self._work_of(payload) for payload in payloads)
        started = time.perf_counter()
        try:
            results = self._run_batch(payloads)
        except Exception as exc:
            if len(batch) > 1:
                return [run for pending in batch for run in self._execute([pending], pending.size)]
            # Not logged here: the request's own protocol logs it once, with its request id.
            return [_Run(batch, items, work, time.perf_counter() - started, error=exc)]
        return [_Run(batch, items, work, time.perf_counter() - started, results=results)]

    def _finish(self, runs: list[_Run[P, R]], inline: bool) -> None:
        """On the loop: learn from the runs, count them, and answer their requests."""
        stats = self.statistics
        for run in runs:
            if run.error is not None:  # a failed run holds one request (`_execute` isolates them)
                future = run.batch[0].future
                if not future.done():
                    future.set_exception(run.error)
                continue
            assert run.results is not None
            self.inline.learn(run.work, run.seconds)
            self._observer.batch_done(self.name, run.items, run.seconds, inline)
            stats.compute_infer.add(run.seconds * len(run.batch), len(run.batch))
            stats.inference_count += run.items
            stats.execution_count += 1
            stats.last_inference_ms = int(time.time() * 1000)
            stats.batches.setdefault(run.items, Duration()).add(run.seconds)
            for pending, result in zip(run.batch, run.results, strict=True):
                if not pending.future.done():
                    pending.future.set_result(result)


def _expire(futures: list[asyncio.Future[R]], name: str, timeout_s: float) -> None:
    for future in futures:
        if not future.done():
            future.set_exception(DeadlineExceeded(f"no result from model {name!r} within {timeout_s:g} s"))
