from __future__ import annotations

import asyncio
import threading
import time

import pytest

from app.batching.activity import Activity
from app.batching.batcher import Batcher, BatchObserver, DeadlineExceeded, QueueFull


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_concurrent_requests_share_batches_and_keep_order() -> None:
    seen: list[int] = []

    def double(batch: list[list[int]]) -> list[list[int]]:
        seen.append(sum(len(p) for p in batch))
        time.sleep(0.01)
        return [[2 * x for x in p] for p in batch]

    async def main() -> list[list[int]]:
        batcher: Batcher[list[int], list[int]] = Batcher("t", double, len, 16, 0.0, 1000)
        batcher.start()
        results = await asyncio.gather(*(batcher.submit([i, i + 1], 5) for i in range(40)))
        await batcher.stop()
        return results

    results = run(main())
    assert results == [[2 * i, 2 * i + 2] for i in range(40)]
    assert max(seen) > 2  # requests were batched together
    assert max(seen) <= 16


def test_a_failing_payload_does_not_fail_its_batch_mates() -> None:
    def picky(batch: list[int]) -> list[int]:
        if -1 in batch:
            raise ValueError("bad item")
        return [x + 1 for x in batch]

    async def main() -> list[object]:
        batcher: Batcher[int, int] = Batcher("t", picky, lambda _: 1, 8, 0.005, 100)
        batcher.start()
        results = await asyncio.gather(*(batcher.submit(x, 5) for x in [1, -1, 3]), return_exceptions=True)
        after = await batcher.submit(10, 5)
        await batcher.stop()
        return [*results, after]

    first, failed, third, after = run(main())
    assert (first, third, after) == (2, 4, 11)
    assert isinstance(failed, ValueError)


class Blocked:
    """A model whose runs wait for `release` (up to 5 s); `started` is set when one begins."""

    def __init__(self) -> None:
        self.started, self.release = threading.Event(), threading.Event()

    def __call__(self, batch: list[int]) -> list[int]:
        self.started.set()
        self.release.wait(5)
        return batch


def test_full_queue_is_refused_at_once() -> None:
    blocked = Blocked()

    async def main() -> None:
        batcher: Batcher[int, int] = Batcher("t", blocked, lambda _: 1, 1, 0.0, 2)
        batcher.start()
        running = asyncio.ensure_future(batcher.submit(0, 5))
        assert await asyncio.to_thread(blocked.started.wait, 5)  # the first item is now running, not queued
        queued = [asyncio.ensure_future(batcher.submit(i, 5)) for i in (1, 2)]
        await asyncio.sleep(0)  # one loop turn: both are in the queue
        with pytest.raises(QueueFull):
            await batcher.submit(3, 5)
        blocked.release.set()
        assert await running == 0
        assert [await q for q in queued] == [1, 2]
        await batcher.stop()

    run(main())


def test_a_request_that_gives_up_frees_its_place_in_the_queue_at_once() -> None:
    blocked = Blocked()

    async def main() -> None:
        batcher: Batcher[int, int] = Batcher("t", blocked, lambda _: 1, 1, 0.0, 1)
        batcher.start()
        running = asyncio.ensure_future(batcher.submit(0, 5))
        assert await asyncio.to_thread(blocked.started.wait, 5)
        with pytest.raises(DeadlineExceeded):
            await batcher.submit(1, 0.01)  # queued behind the stuck batch, then gives up
        waiting = asyncio.ensure_future(batcher.submit(2, 5))  # takes the freed place: no QueueFull
        await asyncio.sleep(0)
        blocked.release.set()
        assert (await running, await waiting) == (0, 2)
        await batcher.stop()

    run(main())


def test_deadline_gives_up_and_the_batcher_goes_on() -> None:
    def slow(batch: list[float]) -> list[float]:
        time.sleep(batch[0])
        return batch

    async def main() -> None:
        batcher: Batcher[float, float] = Batcher("t", slow, lambda _: 1, 1, 0.0, 10)
        batcher.start()
        with pytest.raises(DeadlineExceeded):
            await batcher.submit(0.3, 0.05)
        assert await batcher.submit(0.0, 5) == 0.0
        await batcher.stop()

    run(main())


def test_delay_waits_for_more_items() -> None:
    sizes: list[int] = []

    def record(batch: list[int]) -> list[int]:
        sizes.append(len(batch))
        return batch

    async def main() -> None:
        batcher: Batcher[int, int] = Batcher("t", record, lambda _: 1, 8, 0.05, 100)
        batcher.start()
        first = asyncio.ensure_future(batcher.submit(1, 5))
        await asyncio.sleep(0.01)
        second = asyncio.ensure_future(batcher.submit(2, 5))
        assert (await first, await second) == (1, 2)
        await batcher.stop()

    run(main())
    assert sizes == [2]


class Recorder(BatchObserver):
    """What a batcher tells its observer: runs (items, inline), refusals and drops by reason."""

    def __init__(self) -> None:
        self.runs: list[tuple[int, bool]] = []
        self.refused: list[str] = []
        self.dropped: list[str] = []

    def batch_done(self, model: str, items: int, seconds: float, inline: bool) -> None:
        self.runs.append((items, inline))

    def refuse(self, model: str, reason: str) -> None:
        self.refused.append(reason)

    def drop(self, model: str, reason: str) -> None:
        self.dropped.append(reason)


def test_a_small_batch_of_known_cost_runs_on_the_loop_and_a_big_one_in_the_worker() -> None:
    threads: list[str] = []

    def sleepy(batch: list[int]) -> list[int]:
        threads.append(threading.current_thread().name)
        time.sleep(0.001 * sum(batch))  # 1 ms per unit of work
        return batch

    async def main() -> None:
        recorder = Recorder()
        batcher: Batcher[int, int] = Batcher("t", sleepy, lambda _: 1, 8, 0.0, 100, recorder, inline_max_s=0.005,
                                             work_of=lambda units: units)
        batcher.start()
        assert await batcher.submit(1, 5) == 1  # cost not known yet: the worker thread, which measures it
        assert await batcher.submit(2, 5) == 2  # ~2 ms <= 5 ms: on the loop
        assert await batcher.submit(30, 5) == 30  # ~30 ms: the worker thread
        await batcher.stop()
        assert [inline for _, inline in recorder.runs] == [False, True, False]

    run_in_main = threading.current_thread().name
    asyncio.run(main())
    assert threads[0].startswith("infer-t") and threads[1] == run_in_main and threads[2].startswith("infer-t")


def test_with_no_bound_nothing_runs_on_the_loop() -> None:
    recorder = Recorder()

    async def main() -> None:
        batcher: Batcher[int, int] = Batcher("t", list, lambda _: 1, 8, 0.0, 100, recorder, inline_max_s=0.0)
        batcher.start()
        for i in range(5):
            assert await batcher.submit(i, 5) == i
        await batcher.stop()

    asyncio.run(main())
    assert [inline for _, inline in recorder.runs] == [False] * 5


def test_nothing_runs_on_the_loop_while_other_requests_are_in_flight() -> None:
    recorder = Recorder()
    activity = Activity(quiet_s=0.05)

    async def main() -> None:
        batcher: Batcher[int, int] = Batcher("t", list, lambda _: 1, 8, 0.0, 100, recorder, inline_max_s=1.0,
                                             activity=activity)
        batcher.start()
        activity.enter()
        await batcher.submit(0, 5)  # measures the cost, in the worker
        await batcher.submit(1, 5)  # alone and cheap: on the loop
        activity.enter()  # another request is being parsed or answered: the loop has work of its own
        await batcher.submit(2, 5)
        activity.leave()  # alone again, but requests overlapped just now: concurrency may go on
        await batcher.submit(3, 5)
        await asyncio.sleep(activity.quiet_s)  # a quiet spell: one at a time again
        await batcher.submit(4, 5)
        await batcher.stop()

    asyncio.run(main())
    assert [inline for _, inline in recorder.runs] == [False, True, False, False, True]


@pytest.mark.parametrize(("sole_connection", "order"), [
    (True, ["answered", "a callback queued before"]),  # never yielded to the loop
    (False, ["a callback queued before", "answered"]),  # other connections' requests may be waiting unread
])
def test_a_lone_request_over_the_only_connection_is_answered_without_yielding(sole_connection: bool,
                                                                             order: list[str]) -> None:
    recorder = Recorder()
    activity = Activity(quiet_s=0.0)

    async def main() -> list[str]:
        batcher: Batcher[int, int] = Batcher("t", list, lambda _: 1, 8, 0.0, 100, recorder, inline_max_s=1.0,
                                             activity=activity)
        batcher.start()
        await batcher.submit(0, 5)  # measures the cost, in the worker
        await asyncio.sleep(0.01)  # the collector sees its run end
        seen: list[str] = []
        activity.enter(sole_connection=sole_connection)
        asyncio.get_running_loop().call_soon(seen.append, "a callback queued before")
        assert await batcher.submit(1, 5) == 1
        seen.append("answered")
        activity.leave()
        await asyncio.sleep(0)
        await batcher.stop()
        return seen

    assert run(main()) == order
    assert [inline for _, inline in recorder.runs] == [False, True]  # on the loop either way


def test_nothing_runs_on_the_loop_while_the_worker_still_runs_a_timed_out_batch() -> None:
    release = threading.Event()
    threads: list[str] = []

    def model(batch: list[int]) -> list[int]:
        threads.append(threading.current_thread().name)
        if batch == [1]:
            release.wait(5)
        return batch

    async def main() -> int:
        activity = Activity(quiet_s=0.0)
        activity.enter(sole_connection=True)
        batcher: Batcher[int, int] = Batcher("t", model, lambda _: 1, 8, 0.0, 100, inline_max_s=0.01,
                                             work_of=lambda x: 10**6 if x == 1 else 1, activity=activity)
        batcher.start()
        await batcher.submit(0, 5)  # measures the cost, in the worker
        await asyncio.sleep(0.01)
        with pytest.raises(DeadlineExceeded):
            await batcher.submit(1, 0.05)  # too much work for the loop; still running after its deadline
        asyncio.get_running_loop().call_later(0.05, release.set)
        answer = await batcher.submit(2, 5)  # must wait its turn behind the running batch, in the worker
        await batcher.stop()
        return answer

    assert run(main()) == 2
    assert len(threads) == 3 and all(name.startswith("infer-t") for name in threads)


def test_close_answers_requests_in_flight_and_refuses_new_ones() -> None:
    release = threading.Event()

    def slow(batch: list[int]) -> list[int]:
        release.wait(5)
        return [x + 1 for x in batch]

    async def main() -> tuple[list[int], Exception | None, bool]:
        batcher: Batcher[int, int] = Batcher("t", slow, lambda _: 1, 8, 0.0, 100)
        batcher.start()
        submitted = [asyncio.ensure_future(batcher.submit(i, 5)) for i in range(3)]
        await asyncio.sleep(0.05)
        closing = asyncio.ensure_future(batcher.close())
        await asyncio.sleep(0.05)
        closed_early = closing.done()
        refused = None
        try:
            await batcher.submit(9, 5)
        except Exception as exc:  # the test inspects it
            refused = exc
        release.set()
        results = await asyncio.gather(*submitted)
        await closing
        return results, refused, closed_early

    results, refused, closed_early = run(main())
    assert results == [1, 2, 3]
    assert not closed_early  # close() waited for the requests in flight
    assert refused is not None and getattr(refused, "status", None) == 503


def test_the_worker_takes_the_next_batch_while_the_loop_is_busy() -> None:
    # A busy loop runs a thread's "done" callback late; the next batch must not wait for it.
    first_started, release = threading.Event(), threading.Event()
    started: dict[int, float] = {}

    def model(batch: list[int]) -> list[int]:
        started[batch[0]] = time.perf_counter()
        if batch[0] == 0:
            first_started.set()
            release.wait(5)
        return batch

    async def main() -> tuple[float, list[int]]:
        batcher: Batcher[int, int] = Batcher("t", model, lambda _: 1, 8, 0.0, 100)
        batcher.start()
        first = asyncio.create_task(batcher.submit(0, 5))
        while not first_started.is_set():
            await asyncio.sleep(0.001)
        second = asyncio.create_task(batcher.submit(1, 5))
        await asyncio.sleep(0)  # queued while the first batch runs
        release.set()
        time.sleep(0.3)  # the loop is busy: no callback of the batcher's runs now
        busy_until = time.perf_counter()
        results = [await first, await second]
        await batcher.stop()
        return busy_until, results

    busy_until, results = run(main())
    assert results == [0, 1]
    assert started[1] < busy_until  # the worker went on by itself


def test_requests_that_expire_or_are_cancelled_while_queued_are_dropped_unrun_and_counted() -> None:
    blocked = Blocked()
    ran: list[int] = []

    def model(batch: list[int]) -> list[int]:
        ran.extend(batch)
        return blocked(batch)

    async def main() -> list[str]:
        recorder = Recorder()
        batcher: Batcher[int, int] = Batcher("t", model, lambda _: 1, 1, 0.0, 10, recorder)
        batcher.start()
        running = asyncio.ensure_future(batcher.submit(0, 5))
        assert await asyncio.to_thread(blocked.started.wait, 5)
        late = asyncio.ensure_future(batcher.submit(1, 0.05))  # its deadline passes while it waits
        gone = asyncio.ensure_future(batcher.submit(2, 5))  # its caller goes away
        await asyncio.sleep(0.1)
        gone.cancel()
        await asyncio.sleep(0)
        blocked.release.set()
        assert await running == 0
        with pytest.raises(DeadlineExceeded):
            await late
        await asyncio.sleep(0.05)  # the worker reaches both
        await batcher.stop()
        return recorder.dropped

    assert sorted(run(main())) == ["cancelled", "deadline"]
    assert ran == [0]
