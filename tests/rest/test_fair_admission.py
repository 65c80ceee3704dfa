"""Fair admission over real sockets: two clients sending the largest translate requests the server takes do
not lock a third client out; they get 429 when over their share, the small client never a 503.
(The latency this keeps is measured by benchmarks/fairness.py, in docs/benchmarks.md.)"""

from __future__ import annotations

import json
import signal
import threading
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import parse_metrics, spawn_server, total

KEYS = {"heavy-0": "key-heavy-0", "heavy-1": "key-heavy-1", "small": "key-small"}
MAXIMAL = {"texts": [f"{day} March 2021" for day in range(1, 29)] * 2 + ["1 May 2020"] * 8, "beam_size": 8}  # 512


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    process, base = spawn_server(SEQSERVE_API_KEYS=json.dumps(KEYS), SEQSERVE_MODELS="dates")
    try:
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def auth(client: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[client]}"}


def test_heavy_clients_get_429_and_the_small_client_is_served(url: str) -> None:
    heavy: Counter[int] = Counter()
    small: Counter[int] = Counter()
    done = threading.Event()

    def send_heavy(client: str) -> None:
        with httpx.Client(base_url=url, headers=auth(client), timeout=30) as http:
            while not done.is_set():
                response = http.post("/predict/translate", json=MAXIMAL)
                heavy[response.status_code] += 1
                if response.status_code == 200:
                    assert len(response.json()["translations"]) == 64

    senders = [threading.Thread(target=send_heavy, args=(client,)) for client in ("heavy-0", "heavy-1")
               for _ in range(3)]
    for sender in senders:
        sender.start()
    try:
        with httpx.Client(base_url=url, headers=auth("small"), timeout=30) as http:
            for _ in range(30):
                response = http.post("/predict/translate", json={"texts": ["3 March 2021"]})
                small[response.status_code] += 1
    finally:
        done.set()
        for sender in senders:
            sender.join(60)
    assert small == {200: 30}
    assert set(heavy) <= {200, 429} and heavy[200] and heavy[429], heavy
    found = parse_metrics(httpx.get(f"{url}/metrics").text)
    assert total(found, "seqserve_refused_total", model="dates", reason="client_share") == heavy[429]
    assert total(found, "seqserve_refused_total", reason="queue_full") == 0


def test_a_request_over_its_share_of_the_queue_is_413_naming_the_limit(url: str) -> None:
    too_big = {"texts": MAXIMAL["texts"] * 2, "beam_size": 8}  # 1,024 items of a 2,048-item queue
    response = httpx.post(f"{url}/predict/translate", json=too_big, headers=auth("small"), timeout=30)
    assert response.status_code == 413
    assert "counts 1024 queue items" in response.json()["detail"] and "at most 512" in response.json()["detail"]
    assert httpx.post(f"{url}/predict/translate", json={"texts": ["3 March 2021"]}, headers=auth("small"),
                      timeout=30).status_code == 200


def test_each_named_key_is_its_own_client_and_no_other_key_passes(url: str) -> None:
    body = {"texts": ["3 March 2021"]}
    assert httpx.post(f"{url}/predict/translate", json=body, timeout=30).status_code == 401
    assert httpx.post(f"{url}/predict/translate", json=body, headers={"Authorization": "Bearer nope"},
                      timeout=30).status_code == 401
    assert httpx.get(f"{url}/health/ready").status_code == 200
