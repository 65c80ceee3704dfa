"""Every /v2 error is {"error": ...}, the protocol's shape, including refusals made before routing."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.tasks.digit import DIGIT_EXAMPLE
from tests.conftest import make_client, queued_items, stalled, wait_for, wait_ready

INFER = {"inputs": [{"name": "images", "shape": [1, 28, 28], "datatype": "FP32",
                     "data": np.asarray(DIGIT_EXAMPLE).ravel().tolist()}]}
KEY = {"Authorization": "Bearer k"}


@pytest.fixture(scope="module")
def locked() -> Iterator[TestClient]:
    with make_client(api_key="k", models="digit", max_body_bytes=64 * 1024, max_queue_items=1,
                     request_timeout_s=0.5) as client:
        wait_ready(client)
        yield client


def assert_v2_error(response: object, status: int) -> None:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert set(response.json()) == {"error"}, response.text  # type: ignore[attr-defined]


def test_400_bad_body_and_bad_input(locked: TestClient) -> None:
    assert_v2_error(locked.post("/v2/models/digit/infer", content=b"{bad", headers=KEY), 400)
    bad_shape = {"inputs": [{"name": "images", "shape": [1, 2], "datatype": "FP32", "data": [0.0, 0.0]}]}
    assert_v2_error(locked.post("/v2/models/digit/infer", json=bad_shape, headers=KEY), 400)


def test_401_without_the_key(locked: TestClient) -> None:
    response = locked.post("/v2/models/digit/infer", json=INFER)
    assert_v2_error(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_404_unknown_model_version_and_route(locked: TestClient) -> None:
    assert_v2_error(locked.post("/v2/models/nope/infer", json=INFER, headers=KEY), 404)
    assert_v2_error(locked.get("/v2/models/digit/versions/9"), 404)
    assert_v2_error(locked.get("/v2/no/such/route"), 404)


def test_413_body_over_the_limit(locked: TestClient) -> None:
    assert_v2_error(locked.post("/v2/models/digit/infer", content=b"x" * 100_000, headers=KEY), 413)

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(10):
            yield b"x" * 10_000

    assert_v2_error(locked.post("/v2/models/digit/infer", content=chunks(), headers=KEY), 413)


def test_504_past_the_deadline(locked: TestClient) -> None:
    responses = []
    with stalled(locked) as stall:
        first = threading.Thread(target=lambda: responses.append(
            locked.post("/v2/models/digit/infer", json=INFER, headers=KEY)))
        first.start()
        assert stall.running.wait(5)
        queued = locked.post("/v2/models/digit/infer", json=INFER, headers=KEY)  # waits in the queue, then 504
        first.join(5)
    assert_v2_error(responses[0], 504)
    assert_v2_error(queued, 504)
    assert locked.post("/v2/models/digit/infer", json=INFER, headers=KEY).status_code == 200


def test_503_full_queue(locked: TestClient) -> None:
    threads = []
    with stalled(locked) as stall:
        for _ in range(2):  # one runs, one fills the one-item queue
            thread = threading.Thread(target=locked.post, args=("/v2/models/digit/infer",),
                                      kwargs={"json": INFER, "headers": KEY})
            thread.start()
            threads.append(thread)
            assert stall.running.wait(5)
        wait_for(lambda: queued_items(locked, "digit/1") == 1)  # the second request is queued: the queue is full
        refused = locked.post("/v2/models/digit/infer", json=INFER, headers=KEY)
        assert_v2_error(refused, 503)
        assert refused.headers["retry-after"] == "1"
    for thread in threads:
        thread.join(5)


def test_typed_routes_keep_detail(locked: TestClient) -> None:
    response = locked.post("/predict/digit", content=b"x" * 100_000, headers=KEY)
    assert response.status_code == 413 and set(response.json()) == {"detail"}


def test_metadata_equals_the_models_list(client: TestClient) -> None:
    for info in client.get("/models").json()["models"]:
        metadata = client.get(f"/v2/models/{info['name']}/versions/{info['version']}").json()
        assert (metadata["inputs"], metadata["outputs"]) == (info["inputs"], info["outputs"]), info["name"]
        assert info["inputs"] and info["outputs"]
