"""The fast path answers exactly as the FastAPI routes it stands in for."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.rest.schemas import DIGIT_EXAMPLE
from tests.conftest import make_client, wait_ready

CASES = [
    ("/predict/digit", {"images": [DIGIT_EXAMPLE]}),
    ("/predict/digit?version=1", {"images": [DIGIT_EXAMPLE, DIGIT_EXAMPLE]}),
    ("/predict/digit?version=0", {"images": [DIGIT_EXAMPLE]}),
    ("/predict/digit?version=x", {"images": [DIGIT_EXAMPLE]}),
    ("/predict/digit?model=nope", {"images": [DIGIT_EXAMPLE]}),
    ("/predict/digit", {"images": [[[2.0] * 28] * 28]}),
    ("/predict/digit", [1, 2]),
    ("/predict/sine", {"series": [[0.5, 1.0, 0.2] * 10], "horizon": 7}),
    ("/predict/sine", {"series": [[1.0] * 3]}),
    ("/predict/translate", {"texts": ["3 March 1998"], "beam_size": 2}),
    ("/predict/translate", {"texts": ["up", "king"], "model": "words"}),
    ("/predict/translate", {"texts": ["☃"]}),
]


@pytest.fixture(scope="module")
def framework_only() -> Iterator[TestClient]:
    with make_client(fast_path=False) as test_client:
        wait_ready(test_client)
        yield test_client


@pytest.mark.parametrize(("path", "body"), CASES)
def test_same_answers_with_and_without_the_fast_path(
    client: TestClient, framework_only: TestClient, path: str, body: object
) -> None:
    fast, slow = client.post(path, json=body), framework_only.post(path, json=body)
    assert fast.status_code == slow.status_code, (fast.text, slow.text)
    if fast.status_code == 200:
        assert fast.json() == slow.json()
    else:
        assert set(fast.json()) == set(slow.json()) == {"detail"}
        assert fast.headers["x-request-id"]


def test_fast_path_needs_the_api_key_too() -> None:
    with make_client(api_key="k", models="digit") as locked:
        wait_ready(locked)
        assert locked.post("/predict/digit", json={"images": [DIGIT_EXAMPLE]}).status_code == 401
        ok = locked.post("/predict/digit", json={"images": [DIGIT_EXAMPLE]}, headers={"Authorization": "Bearer k"})
        assert ok.status_code == 200
