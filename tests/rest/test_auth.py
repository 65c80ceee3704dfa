from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.rest.schemas import DIGIT_EXAMPLE
from tests.conftest import make_client, wait_ready

KEY = "s3cret-key"


@pytest.fixture(scope="module")
def locked() -> Iterator[TestClient]:
    with make_client(api_key=KEY, models="digit") as client:
        wait_ready(client)
        yield client


def test_predict_needs_the_key(locked: TestClient) -> None:
    body = {"images": [DIGIT_EXAMPLE]}
    missing = locked.post("/predict/digit", json=body)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert locked.post("/predict/digit", json=body, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert locked.post("/predict/digit", json=body, headers={"Authorization": f"Basic {KEY}"}).status_code == 401
    ok = locked.post("/predict/digit", json=body, headers={"Authorization": f"Bearer {KEY}"})
    assert ok.status_code == 200


def test_health_docs_and_metrics_stay_open(locked: TestClient) -> None:
    for path in ("/health/live", "/health/ready", "/docs", "/openapi.json", "/metrics", "/models"):
        assert locked.get(path).status_code == 200, path


def test_the_key_never_reaches_the_logs(locked: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    locked.post("/predict/digit", json={"images": []}, headers={"Authorization": f"Bearer {KEY}"})
    assert KEY not in caplog.text
    assert KEY not in repr(locked.app.state.settings)  # type: ignore[attr-defined]
