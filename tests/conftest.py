from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"


def wait_ready(client: TestClient, timeout_s: float = 60.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout_s
    while True:
        response = client.get("/health/ready")
        if response.status_code == 200 or time.monotonic() > deadline:
            return dict(response.json())
        time.sleep(0.05)


def make_client(**overrides: object) -> TestClient:
    settings = Settings(model_dir=overrides.pop("model_dir", MODELS), device="cpu", **overrides)  # type: ignore[arg-type]
    return TestClient(create_app(settings), raise_server_exceptions=False)


@pytest.fixture(scope="session")
def client() -> Iterator[TestClient]:
    """The service over the committed models, loaded and warm."""
    with make_client() as test_client:
        state = wait_ready(test_client)
        assert state["status"] == "ready", state
        yield test_client
