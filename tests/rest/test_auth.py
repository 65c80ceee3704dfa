from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.tasks.digit import DIGIT_EXAMPLE
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


def test_the_key_never_reaches_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    client = make_client(api_key=KEY, models="digit", log_level="debug")
    app_logger = logging.getLogger("app")  # it does not propagate to the root logger caplog listens on
    app_logger.addHandler(caplog.handler)
    try:
        with client:
            wait_ready(client)
            for headers in ({"Authorization": f"Bearer {KEY}"}, {"Authorization": f"Bearer {KEY}x"}, {}):
                client.post("/predict/digit", json={"images": [DIGIT_EXAMPLE]}, headers=headers)
    finally:
        app_logger.removeHandler(caplog.handler)
    assert any(r.name.startswith("app.") for r in caplog.records)  # the service did log: the check means something
    assert KEY not in caplog.text
    assert KEY not in repr(client.app.state.settings)  # type: ignore[attr-defined]


def test_an_empty_key_means_no_key_and_an_empty_bearer_never_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The compose file passes `SEQSERVE_API_KEY: ${SEQSERVE_API_KEY:-}`: unset there, the server is open."""
    from app.settings import Settings

    monkeypatch.setenv("SEQSERVE_API_KEY", "")
    monkeypatch.setenv("SEQSERVE_STREAM_KEY", "  ")
    settings = Settings()
    assert settings.api_key is None and settings.stream_key is None
    with make_client(api_key="", models="digit") as client:
        wait_ready(client)
        assert client.post("/predict/digit", json={"images": [DIGIT_EXAMPLE]}).status_code == 200


def test_an_empty_bearer_token_is_refused(locked: TestClient) -> None:
    for header in ("Bearer ", "Bearer", "bearer  "):
        response = locked.post("/predict/digit", json={"images": [DIGIT_EXAMPLE]}, headers={"Authorization": header})
        assert response.status_code == 401, header


def test_a_named_key_names_its_client_and_a_peer_is_its_address() -> None:
    from pydantic import SecretStr

    from app.auth import check_api_key, peer_host
    from app.errors import Unauthorized
    from app.settings import Settings

    settings = Settings(api_key=SecretStr("shared"), api_keys={"alice": SecretStr("a-key")})
    assert check_api_key("Bearer a-key", settings) == "alice"
    assert check_api_key("Bearer shared", settings) is None  # the one shared key names no client
    for header in ("Bearer b-key", "Bearer ", "Basic a-key", ""):
        with pytest.raises(Unauthorized):
            check_api_key(header, settings)
    assert check_api_key("", Settings()) is None  # no key configured: open
    assert [peer_host(p) for p in ("ipv4:127.0.0.1:5000", "ipv6:[::1]:5000", "unix:/run/s.sock", "")] == [
        "127.0.0.1", "::1", "/run/s.sock", ""]
