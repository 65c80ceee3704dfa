"""The fast path and the documented FastAPI routes are one endpoint: byte-identical answers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.tasks.digit import DIGIT_EXAMPLE
from tests.conftest import make_client, wait_ready

JSON = {"content-type": "application/json"}
IMAGE = {"images": [DIGIT_EXAMPLE]}
SERIES = [0.5, 1.0, 0.2] * 10

# (path, raw body, headers): good and bad requests on every typed JSON route
CASES: list[tuple[str, bytes | None, dict[str, str]]] = [
    ("/predict/digit", b'{"images": [%s]}' % str(DIGIT_EXAMPLE).encode(), JSON),
    ("/predict/digit?version=1", b'{"images": [%s, %s]}' % ((str(DIGIT_EXAMPLE).encode(),) * 2), JSON),
    ("/predict/digit?version=0", b'{"images": []}', JSON),
    ("/predict/digit?version=x", b'{"images": []}', JSON),
    ("/predict/digit?version=%C2%B9", b'{"images": []}', JSON),
    ("/predict/digit?version=7", b'{"images": [%s]}' % str(DIGIT_EXAMPLE).encode(), JSON),
    ("/predict/digit?model=nope", b'{"images": [%s]}' % str(DIGIT_EXAMPLE).encode(), JSON),
    ("/predict/digit?model=sine", b'{"images": [%s]}' % str(DIGIT_EXAMPLE).encode(), JSON),
    ("/predict/digit", b'{"images": [[[2.0]]]}', JSON),
    ("/predict/digit", b"[1, 2]", JSON),
    ("/predict/digit", b"", JSON),
    ("/predict/digit", b"{not json", JSON),
    ("/predict/digit", b'{"images": []}', {"content-type": "text/plain"}),
    ("/predict/digit", b'{"images": []}', {}),
    ("/predict/digit", b'{"pictures": []}', JSON),
    ("/predict/sine", b'{"series": [%s], "horizon": 7}' % str(SERIES).encode(), JSON),
    ("/predict/sine", b'{"series": [%s]}' % str(SERIES).encode(), JSON),
    ("/predict/sine", b'{"series": [[1.0, 1.0, 1.0]]}', JSON),
    ("/predict/sine", b'{"series": [%s], "horizon": 65}' % str(SERIES).encode(), JSON),
    ("/predict/sine", b'{"series": [%s], "horizon": true}' % str(SERIES).encode(), JSON),
    ("/predict/sine", b'{"series": [[1e999]]}', JSON),
    ("/predict/translate", b'{"texts": ["3 March 1998"], "beam_size": 2}', JSON),
    ("/predict/translate", b'{"texts": ["up", "king"], "model": "words"}', JSON),
    ("/predict/translate?model=words", b'{"texts": ["king"]}', JSON),
    ("/predict/translate?model=words", b'{"texts": ["king"], "model": "dates"}', JSON),
    ("/predict/translate?model=digit", b'{"texts": ["king"]}', JSON),
    ("/predict/translate?model=", b'{"texts": ["king"]}', JSON),
    ("/predict/translate", b'{"texts": ["king"], "model": ""}', JSON),
    ("/predict/translate", b'{"texts": ["\\u2603"]}', JSON),
    ("/predict/translate", b'{"texts": ["1 May 2001"], "beam_size": 9}', JSON),
    ("/predict/translate", b'{"texts": ["1 May 2001"], "model": 3}', JSON),
    ("/predict/translate", b'{"texts": "1 May 2001"}', JSON),
]


@pytest.fixture(scope="module")
def framework_only() -> Iterator[TestClient]:
    with make_client(fast_path=False) as test_client:
        wait_ready(test_client)
        yield test_client


def test_the_table_covers_good_and_bad_requests(client: TestClient) -> None:
    statuses = [client.post(path, content=body, headers=headers).status_code for path, body, headers in CASES]
    assert len(CASES) >= 20
    assert statuses.count(200) >= 5 and {400, 404, 415, 422} <= set(statuses)


@pytest.mark.parametrize(("path", "body", "headers"), CASES)
def test_byte_identical_with_and_without_the_fast_path(
    client: TestClient, framework_only: TestClient, path: str, body: bytes, headers: dict[str, str]
) -> None:
    fast = client.post(path, content=body, headers=headers)
    slow = framework_only.post(path, content=body, headers=headers)
    assert (fast.status_code, fast.content) == (slow.status_code, slow.content)
    assert fast.headers["content-type"] == slow.headers["content-type"]
    assert fast.headers.get("retry-after") == slow.headers.get("retry-after")
    assert fast.headers["x-request-id"] and slow.headers["x-request-id"]


def test_an_empty_model_name_names_no_model(client: TestClient) -> None:
    assert client.post("/predict/translate?model=", json={"texts": ["king"]}).status_code == 404
    assert client.post("/predict/translate", json={"texts": ["king"], "model": ""}).status_code == 404
    assert client.post("/predict/digit?model=", json=IMAGE).status_code == 404


def test_translate_serves_the_model_named_in_the_query(client: TestClient) -> None:
    response = client.post("/predict/translate?model=words", json={"texts": ["king"]})
    assert response.status_code == 200
    assert response.json()["model"] == "words"
    assert response.json()["translations"][0]["text"] == "queen"


@pytest.mark.parametrize("fast_path", [True, False])
def test_the_api_key_is_checked_the_same_way(fast_path: bool) -> None:
    with make_client(api_key="k", models="digit", fast_path=fast_path) as locked:
        wait_ready(locked)
        refused = locked.post("/predict/digit", json=IMAGE)
        assert refused.status_code == 401
        assert refused.json() == {"detail": "missing or wrong API key"}
        assert refused.headers["www-authenticate"].startswith("Bearer")
        ok = locked.post("/predict/digit", json=IMAGE, headers={"Authorization": "Bearer k"})
        assert ok.status_code == 200
