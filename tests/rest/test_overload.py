"""Overload and faults through HTTP: a full queue is 503 at once, a late answer 504, a crash 500 with a
request id; health keeps answering and the service recovers by itself."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from app.rest.schemas import DIGIT_EXAMPLE
from tests.conftest import make_client, wait_ready

BODY = {"images": [DIGIT_EXAMPLE]}


def digit_model(client: TestClient) -> Any:
    return client.app.state.registry.get("digit").model  # type: ignore[attr-defined]


def test_full_queue_503_late_504_then_recovery() -> None:
    with make_client(models="digit", max_queue_items=2, request_timeout_s=1.0) as client:
        wait_ready(client)
        model = digit_model(client)
        original = model.predict_batch
        gate = threading.Event()

        def stuck(payloads: list[np.ndarray]) -> list[np.ndarray]:
            gate.wait(10)
            return original(payloads)

        model.predict_batch = stuck
        client.app.state.registry.get("digit").batcher._run_batch = stuck  # type: ignore[attr-defined]
        statuses: list[int] = []

        def post() -> None:
            statuses.append(client.post("/predict/digit", json=BODY).status_code)

        running = threading.Thread(target=post)
        running.start()
        time.sleep(0.2)  # the first request is now inside the model
        queued = [threading.Thread(target=post) for _ in range(2)]
        for thread in queued:
            thread.start()
        time.sleep(0.2)  # two items queued: the queue is full

        started = time.perf_counter()
        refused = client.post("/predict/digit", json=BODY)
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert time.perf_counter() - started < 0.5  # at once, not after queueing
        assert client.get("/health/ready").status_code == 200
        for thread in [running, *queued]:
            thread.join(5)
        assert sorted(statuses) == [504, 504, 504]  # all waited past the 1 s deadline

        gate.set()
        time.sleep(0.1)
        model.predict_batch = original
        client.app.state.registry.get("digit").batcher._run_batch = original  # type: ignore[attr-defined]
        recovered = client.post("/predict/digit", json=BODY)
        assert recovered.status_code == 200
        assert recovered.json()["predictions"][0]["digit"] == 7


def test_a_crash_in_inference_is_500_with_the_request_id_and_spares_the_rest() -> None:
    with make_client(models="digit", max_batch_delay_ms=50) as client:
        wait_ready(client)
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
        assert client.post("/predict/digit", json=BODY).status_code == 200
