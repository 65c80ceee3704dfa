"""Overload and faults through HTTP: a full queue is 503 at once, a late answer 504, a crash 500 with a
request id; health keeps answering and the service recovers by itself."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import numpy as np
import pytest

from app.tasks.digit import DIGIT_EXAMPLE
from tests.conftest import make_client, queued_items, stalled, wait_for, wait_ready

BODY = {"images": [DIGIT_EXAMPLE]}


def test_full_queue_503_late_504_then_recovery() -> None:
    # One client fills the whole queue here: its share is all of it (fair shares: tests/batching).
    with make_client(models="digit", max_queue_items=2, client_queue_share=1.0, request_timeout_s=1.0) as client:
        wait_ready(client)
        statuses: list[int] = []

        def post() -> None:
            statuses.append(client.post("/predict/digit", json=BODY).status_code)

        with stalled(client) as stall:
            first = threading.Thread(target=post)
            first.start()
            assert stall.running.wait(5)  # the first request is now inside the model
            queued = [threading.Thread(target=post) for _ in range(2)]
            for thread in queued:
                thread.start()
            wait_for(lambda: queued_items(client, "digit/1") == 2)  # the queue is full

            started = time.perf_counter()
            refused = client.post("/predict/digit", json=BODY)
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == "1"
            assert time.perf_counter() - started < 0.5  # at once, not after queueing
            assert client.get("/health/ready").status_code == 200
            for thread in [first, *queued]:
                thread.join(5)
            assert sorted(statuses) == [504, 504, 504]  # all waited past the 1 s deadline

        recovered = client.post("/predict/digit", json=BODY)
        assert recovered.status_code == 200
        assert recovered.json()["predictions"][0]["digit"] == 7


def test_a_crash_in_inference_is_500_with_the_request_id_and_spares_the_rest(
        caplog: pytest.LogCaptureFixture) -> None:
    with make_client(models="digit", max_batch_delay_ms=50) as client:
        wait_ready(client)
        logging.getLogger("app").addHandler(caplog.handler)  # the app's logger does not propagate
        batcher = client.app.state.registry.get("digit").batcher  # type: ignore[attr-defined]
        original = batcher._run_batch

        def crashing(payloads: list[np.ndarray]) -> list[np.ndarray]:
            if any(float(p.max()) == 0.0 for p in payloads):
                raise RuntimeError("simulated fault in the model")
            return list(original(payloads))

        batcher._run_batch = crashing
        results: dict[str, Any] = {}

        def post(name: str, body: dict[str, Any], request_id: str) -> None:
            results[name] = client.post("/predict/digit", json=body, headers={"X-Request-ID": request_id})

        blank = {"images": [[[0.0] * 28] * 28]}
        threads = [threading.Thread(target=post, args=("good", BODY, "good-1")),
                   threading.Thread(target=post, args=("bad", blank, "bad-1"))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert results["good"].status_code == 200
        assert results["bad"].status_code == 500
        assert "bad-1" in results["bad"].json()["detail"]
        logging.getLogger("app").removeHandler(caplog.handler)
        logged = [r for r in caplog.records if r.exc_info and "simulated fault" in str(r.exc_info[1])]
        assert len(logged) == 1 and "bad-1" in logged[0].getMessage()  # one line per 500, naming the request
        assert client.post("/predict/digit", json=BODY).status_code == 200
