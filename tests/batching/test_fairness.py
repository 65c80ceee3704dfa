"""The fair queue and its use by the batcher: admission by share, order by start tag, big requests in parts."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

import pytest

from app.batching.batcher import Batcher
from app.batching.fairness import FairQueue
from app.errors import PayloadTooLarge, QueueFull, TooManyRequests
from tests.batching.test_batcher import Recorder


@dataclass
class Request:
    client: str
    size: int
    start: float = 0.0


def drain(queue: FairQueue[Request]) -> list[Request]:
    order = []
    while (head := queue.peek()) is not None:
        queue.pop(head)
        order.append(head)
    return order


def test_admission_says_why_a_request_may_not_queue() -> None:
    queue: FairQueue[Request] = FairQueue(capacity=100, request_items=25, client_items=40)
    assert queue.admit("a", 26) == FairQueue.REQUEST_TOO_LARGE
    queue.push(Request("a", 25))
    assert queue.admit("a", 15) is None  # 40: its whole share
    queue.push(Request("a", 15))
    assert queue.admit("a", 1) == FairQueue.CLIENT_SHARE
    assert queue.admit("b", 25) is None  # another client is not held back by a's share
    for client in "bc":
        queue.push(Request(client, 25))
    assert queue.items == 90
    assert queue.admit("d", 11) == FairQueue.QUEUE_FULL
    assert queue.admit("d", 10) is None


def test_a_light_client_is_served_before_a_heavy_clients_backlog() -> None:
    queue: FairQueue[Request] = FairQueue(capacity=1000, request_items=100, client_items=1000)
    heavy = [Request("heavy", 8) for _ in range(10)]
    for request in heavy:
        queue.push(request)
    queue.pop(queue.peek())  # type: ignore[arg-type]  # heavy's first is running
    light = Request("light", 1)
    queue.push(light)
    order = drain(queue)
    assert order[0] is light  # next, not behind the nine heavy requests still queued
    assert order[1:] == heavy[1:]  # each client's own requests stay in order


def test_two_backlogged_clients_alternate_by_items() -> None:
    queue: FairQueue[Request] = FairQueue(capacity=1000, request_items=100, client_items=1000)
    for _ in range(4):
        queue.push(Request("big", 8))
    for _ in range(8):
        queue.push(Request("small", 4))
    order = [r.client for r in drain(queue)]
    # Equal service in items: one 8-item request of "big" for each two 4-item requests of "small".
    assert order == ["small", "big", "small", "small", "big", "small", "small", "big", "small", "small", "big",
                     "small"]


def test_a_forgotten_request_stops_counting_at_once() -> None:
    queue: FairQueue[Request] = FairQueue(capacity=10, request_items=10, client_items=10)
    request = Request("a", 10)
    queue.push(request)
    assert queue.admit("b", 1) == FairQueue.QUEUE_FULL
    queue.forget(request)
    assert queue.items == 0 and queue.client_queued("a") == 0
    assert queue.admit("b", 1) is None
    assert drain(queue) == [request]  # still in line: the batcher drops it when its turn comes


def test_the_batcher_refuses_by_reason_with_the_status_of_each() -> None:
    release = threading.Event()

    def blocked(batch: list[list[int]]) -> list[list[int]]:
        release.wait(5)
        return batch

    async def main() -> list[type[Exception]]:
        observer = Recorder()
        batcher: Batcher[list[int], list[int]] = Batcher("t", blocked, len, 1, 0.0, 6, observer,
                                                         max_request_items=3, max_client_items=3)
        batcher.start()
        running = asyncio.ensure_future(batcher.submit([0], 5, "a"))  # taken at once: the model is busy
        await asyncio.sleep(0.05)
        queued = [asyncio.ensure_future(batcher.submit([1, 2, 3], 5, c)) for c in "ab"]
        await asyncio.sleep(0.05)
        refused = []
        for payload, client in (([1, 2, 3, 4], "c"), ([1], "a"), ([1, 2, 3], "c"), ([1], "c")):
            with pytest.raises((PayloadTooLarge, TooManyRequests, QueueFull)) as caught:
                await batcher.submit(payload, 5, client)
            refused.append(caught.type)
        release.set()
        await asyncio.gather(running, *queued)
        await batcher.stop()
        assert observer.refused == ["request_too_large", "client_share", "queue_full", "queue_full"]
        return refused

    assert asyncio.run(main()) == [PayloadTooLarge, TooManyRequests, QueueFull, QueueFull]


def test_a_big_request_runs_in_parts_and_others_run_between_them() -> None:
    runs: list[list[list[int]]] = []
    first_started, release = threading.Event(), threading.Event()

    def model(batch: list[list[int]]) -> list[list[int]]:
        runs.append(batch)
        if not first_started.is_set():
            first_started.set()
            release.wait(5)
        return [[2 * x for x in payload] for payload in batch]

    def split(payload: list[int], most: int) -> list[list[int]]:
        return [payload[i : i + most] for i in range(0, len(payload), most)]

    def join(results: list[list[int]]) -> list[int]:
        return [x for part in results for x in part]

    async def main() -> tuple[list[int], list[int]]:
        batcher: Batcher[list[int], list[int]] = Batcher("t", model, len, 4, 0.0, 1000, split=split, join=join)
        batcher.start()
        blocker = asyncio.ensure_future(batcher.submit([0], 5, "other"))
        while not first_started.is_set():
            await asyncio.sleep(0.001)
        big = asyncio.ensure_future(batcher.submit(list(range(1, 13)), 5, "big"))
        await asyncio.sleep(0.01)
        small = asyncio.ensure_future(batcher.submit([100], 5, "small"))
        await asyncio.sleep(0.01)
        release.set()
        await blocker
        results = await big, await small
        await batcher.stop()
        return results

    big, small = asyncio.run(main())
    assert big == [2 * x for x in range(1, 13)]  # the parts' results joined in order
    assert small == [200]
    sizes = [[len(payload) for payload in batch] for batch in runs[1:]]
    assert all(size <= 2 for batch in sizes for size in batch)  # parts of half a batch (4)
    # The small request rides in the first batch after the blocker, beside one part, not after all six.
    assert [100] in runs[1]
