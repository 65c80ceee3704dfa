from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.tasks.digit import DIGIT_EXAMPLE


def samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = client.get("/metrics").text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_counts_move_with_requests(client: TestClient) -> None:
    key = ("seqserve_requests_total", (("model", "digit/1"), ("route", "/predict/digit"), ("status", "200")))
    bad = ("seqserve_requests_total", (("model", "digit/1"), ("route", "/predict/digit"), ("status", "422")))
    before = samples(client)
    for _ in range(3):
        assert client.post("/predict/digit", json={"images": [DIGIT_EXAMPLE]}).status_code == 200
    assert client.post("/predict/digit", json={"images": []}).status_code == 422
    after = samples(client)
    assert after[key] - before.get(key, 0) == 3
    assert after[bad] - before.get(bad, 0) == 1
    batches = ("seqserve_batch_size_count", (("model", "digit/1"),))
    assert after[batches] - before.get(batches, 0) >= 1
    assert after[("seqserve_model_state", (("model", "digit/1"), ("state", "ready")))] == 1
    assert ("seqserve_queue_items", (("model", "digit/1"),)) in after
    assert after[("seqserve_request_duration_seconds_count", (("route", "/predict/digit"),))] >= 4
    assert ("seqserve_inference_seconds_sum", (("model", "digit/1"),)) in after
