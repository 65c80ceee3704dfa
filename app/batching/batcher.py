"""One batcher per model: a bounded queue, a collector task, and one worker thread that runs batches.

A batch takes whatever is queued (up to max_batch_size items), optionally waiting max_batch_delay for
more. While a batch runs, new requests queue up and form the next batch, so concurrency alone makes
batches without adding a fixed delay to a lone request. One thread hand-off per batch, not per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from app.errors import DeadlineExceeded, QueueFull

logger = logging.getLogger(__name__)

P = TypeVar("P")
R = TypeVar("R")


class BatchObserver:
    """Hooks for metrics; the default does nothing."""

    def batch_done(self, model: str, items: int, seconds: float) -> None: ...

    def queue_depth(self, model: str, items: int) -> None: ...


@dataclass
class _Pending(Generic[P, R]):
    payload: P
    size: int
    future: asyncio.Future[R] = field(repr=False)
    taken: bool = False  # popped by the collector


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
    ) -> None:
        self.name = name
        self._run_batch = run_batch
        self._size_of = size_of
        self.max_batch_size = max_batch_size
        self.max_batch_delay_s = max_batch_delay_s
        self.max_queue_items = max_queue_items
        self._observer = observer or BatchObserver()
        self._queue: deque[_Pending[P, R]] = deque()
        self._queued_items = 0
        self._wakeup = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"infer-{name}")
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._collect(), name=f"batcher-{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for pending in self._queue:
            if not pending.future.done():
                pending.future.cancel()
        self._executor.shutdown(wait=True)

    async def submit(self, payload: P, timeout_s: float) -> R:
        size = self._size_of(payload)
        # An empty queue takes any one request, so a request bigger than the queue is not refused forever.
        if self._queued_items + size > self.max_queue_items and self._queued_items > 0:
            raise QueueFull(f"model {self.name!r} has {self._queued_items} items queued")
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        pending = _Pending(payload, size, future)
        self._queue.append(pending)
        self._queued_items += size
        self._observer.queue_depth(self.name, self._queued_items)
        self._wakeup.set()
        try:
            async with asyncio.timeout(timeout_s):
                return await future
        except TimeoutError:
            raise DeadlineExceeded(f"no result from model {self.name!r} within {timeout_s:g} s") from None
        finally:
            # Timed out or cancelled: the future is cancelled with the wait. Still queued, the collector
            # will drop it, but its items stop counting against the queue now; already running, its
            # result is discarded.
            if not pending.taken:
                self._queued_items -= pending.size
                pending.size = 0
                self._observer.queue_depth(self.name, self._queued_items)

    def _take(self, batch: list[_Pending[P, R]], items: int) -> int:
        while self._queue and (not batch or items + self._queue[0].size <= self.max_batch_size):
            pending = self._queue.popleft()
            pending.taken = True
            self._queued_items -= pending.size
            if pending.future.cancelled():
                continue
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
            self._observer.queue_depth(self.name, self._queued_items)
            if batch:
                await self._run(batch, items)

    async def _run(self, batch: list[_Pending[P, R]], items: int) -> None:
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        try:
            results = await loop.run_in_executor(self._executor, self._run_batch, [p.payload for p in batch])
        except Exception as exc:
            if len(batch) > 1:
                # One bad payload must not fail its batch-mates: run each alone to isolate it.
                for pending in batch:
                    await self._run([pending], pending.size)
                return
            logger.exception("inference failed for model %s", self.name)
            if not batch[0].future.done():
                batch[0].future.set_exception(exc)
            return
        self._observer.batch_done(self.name, items, time.perf_counter() - started)
        for pending, result in zip(batch, results, strict=True):
            if not pending.future.done():
                pending.future.set_result(result)
