from __future__ import annotations

import concurrent.futures
import time

from fastapi.testclient import TestClient

from tests.conftest import MODELS, make_client, stalled, wait_for, wait_ready


def test_live_and_ready(client: TestClient) -> None:
    assert client.get("/health/live").json() == {"status": "alive"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200
    assert set(ready.json()["models"]) >= {"digit/1", "sine/1", "dates/1", "words/1"}


def test_models_lists_provider_backend_and_metrics(client: TestClient) -> None:
    models = {(m["name"], m["version"]): m for m in client.get("/models").json()["models"]}
    digit = models[("digit", 1)]
    assert digit["state"] == "ready"
    assert digit["backend"] == "onnx"
    assert digit["provider"] == "CPUExecutionProvider"
    assert digit["metrics"]["test_accuracy"] >= 0.975
    assert models[("dates", 1)]["metrics"]["test_exact_match"] >= 0.98
    assert models[("words", 1)]["metrics"]["test_exact_match"] == 1.0
    assert models[("sine", 1)]["metrics"]["ratio_h16_vs_sinusoid_fit"] <= 1.15


def test_every_response_has_a_request_id(client: TestClient) -> None:
    assert client.get("/health/live").headers["x-request-id"]
    echoed = client.get("/health/live", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"


def test_ready_is_503_until_models_are_loaded(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with make_client(model_dir=tmp_path / "absent") as client:
        wait_for(lambda: client.get("/health/ready").json()["status"] != "loading")
        response = client.get("/health/ready")
        assert response.status_code == 503
        assert "does not exist" in response.json()["problems"][0]
        assert client.get("/health/live").status_code == 200


def test_health_answers_while_a_long_translation_runs() -> None:
    """Inference runs in a worker thread: a big beam search must not block the event loop."""
    with make_client(model_dir=MODELS, max_items=256, request_timeout_s=60, max_request_share=1.0) as client:
        wait_ready(client)
        texts = [f"{d} September {1950 + d}" for d in range(1, 29)] * 9
        slow: dict[str, float] = {}

        def translate() -> None:  # checked by the test's own thread: an assert here could leave it waiting
            started = time.perf_counter()
            response = client.post("/predict/translate", json={"texts": texts, "beam_size": 8})
            slow["status"], slow["seconds"] = response.status_code, time.perf_counter() - started

        with stalled(client, "dates") as stall, concurrent.futures.ThreadPoolExecutor(1) as pool:
            stall.release.set()  # nothing is held back: `running` only says when the translation reached the model
            worker = pool.submit(translate)
            assert stall.running.wait(5)
            health_times = []
            while not worker.done():
                started = time.perf_counter()
                assert client.get("/health/live").status_code == 200
                health_times.append(time.perf_counter() - started)
            worker.result()  # re-raises what the translation raised
        assert slow["status"] == 200
        # Health kept answering during the translation, each answer far quicker than the translation.
        assert len(health_times) >= 3
        assert max(health_times) < slow["seconds"]
