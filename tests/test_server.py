"""The real thing: `python -m app` in its own process, over a socket."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import httpx
import pytest

from app.tasks.digit import DIGIT_EXAMPLE
from tests.conftest import metric, spawn_server


def test_predicts_over_a_socket(server: str) -> None:
    with httpx.Client(base_url=server) as http:
        digit = http.post("/predict/digit", json={"images": [DIGIT_EXAMPLE]})
        assert digit.json()["predictions"][0]["digit"] == 7
        dates = http.post("/predict/translate", json={"texts": ["3 March 1998"]})
        assert dates.json()["translations"][0]["text"] == "1998-03-03"
        sine = http.post("/predict/sine", json={"series": [[float(i % 7) for i in range(50)]], "horizon": 3})
        assert len(sine.json()["forecasts"][0]) == 3


def test_body_over_the_limit_is_413(server: str) -> None:
    with httpx.Client(base_url=server) as http:
        response = http.post("/predict/digit", content=b"[" + b"0," * 5_000_000 + b"0]",
                             headers={"content-type": "application/json"})
        assert response.status_code == 413
        assert http.get("/health/ready").status_code == 200


@pytest.mark.parametrize("path", ["/predict/digit", "/v2/models/digit/infer"])
def test_a_64_mb_body_gets_a_413_that_clients_can_read(server: str, path: str) -> None:
    """Clients that send the whole body before reading must see the 413, not a reset connection."""
    body = b"[" + b"0," * (32 * 1024 * 1024 - 1) + b"0]"  # 64 MiB
    key = "error" if path.startswith("/v2") else "detail"
    response = httpx.post(f"{server}{path}", content=body, headers={"content-type": "application/json"}, timeout=60)
    assert response.status_code == 413
    assert "exceeds" in response.json()[key]
    request = urllib.request.Request(f"{server}{path}", data=body, headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=60)
    assert refused.value.code == 413
    assert "exceeds" in json.loads(refused.value.read())[key]
    assert httpx.get(f"{server}/health/ready").status_code == 200


def test_chunked_body_over_the_limit_is_413(server: str) -> None:
    def chunks():  # type: ignore[no-untyped-def]  # no Content-Length: the edge counts as the body arrives
        yield b'{"images": ['
        for _ in range(2000):
            yield b"[" + b"0.5," * 5000 + b"0.5],"
        yield b"]}"

    with httpx.Client(base_url=server) as http:
        response = http.post("/predict/digit", content=chunks(), headers={"content-type": "application/json"})
        assert response.status_code == 413
        assert "exceeds" in response.json()["detail"]
        assert http.get("/health/ready").status_code == 200


def test_concurrent_requests_are_answered_in_order(server: str) -> None:
    import concurrent.futures

    def ask(i: int) -> str:
        text = f"{1 + i % 28} May {1960 + i}"
        response = httpx.post(f"{server}/predict/translate", json={"texts": [text]}, timeout=30)
        return str(response.json()["translations"][0]["text"])

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(ask, range(48)))
    assert answers == [f"{1960 + i}-05-{1 + i % 28:02d}" for i in range(48)]


def test_several_worker_processes_serve() -> None:
    """`python -m app --workers 2`: two processes, each with its own sessions, one port."""
    process, url = spawn_server("--workers", "2", SEQSERVE_MODELS="digit")
    try:
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        assert len(children) >= 2
        with httpx.Client(base_url=url) as http:
            for _ in range(20):
                response = http.post("/predict/digit", json={"images": [DIGIT_EXAMPLE]})
                assert response.json()["predictions"][0]["digit"] == 7
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_lone_request_runs_without_a_thread_hand_off_and_a_big_batch_never_holds_the_loop() -> None:
    """Small work of known cost runs on the event loop; a 64-image batch goes to the worker thread, and
    health keeps answering meanwhile. (A 5 ms bound: one image fits it on any machine, 64 on none.)"""
    process, server = spawn_server(SEQSERVE_MODELS="digit", SEQSERVE_INLINE_MAX_MS="5")
    try:
        check_inline_and_worker_runs(server)
    finally:
        process.terminate()
        process.wait(timeout=30)


def check_inline_and_worker_runs(server: str) -> None:
    import concurrent.futures
    import time

    def inline_runs() -> float:
        return metric(server, "seqserve_inline_batches_total", model="digit", version="1")

    with httpx.Client(base_url=server, timeout=30) as http:
        before = inline_runs()
        for _ in range(5):
            assert http.post("/predict/digit", json={"images": [DIGIT_EXAMPLE]}).status_code == 200
        assert inline_runs() >= before + 4  # the first may still be measuring the model's cost

        batch_times: list[float] = []

        def big_batches() -> list[int]:  # statuses, checked by the test's own thread (an assert here could hang it)
            statuses = []
            with httpx.Client(base_url=server, timeout=30) as other:
                for _ in range(8):
                    started = time.perf_counter()
                    statuses.append(other.post("/predict/digit", json={"images": [DIGIT_EXAMPLE] * 64}).status_code)
                    batch_times.append(time.perf_counter() - started)
            return statuses

        inline_before_big = inline_runs()
        health: list[float] = []
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            big = pool.submit(big_batches)
            while not big.done():
                started = time.perf_counter()
                assert http.get("/health/live").status_code == 200
                health.append(time.perf_counter() - started)
            assert big.result() == [200] * 8
        assert inline_runs() == inline_before_big  # every 64-image batch ran in the worker thread
    health.sort()
    assert len(health) >= 5
    # A 64-image batch held on the loop would hold every health answer for its whole run.
    assert health[len(health) // 2] < min(batch_times) / 2, (health, batch_times)


def test_requests_arriving_together_over_several_connections_are_batched() -> None:
    """Over the only open connection a lone request runs to its answer without yielding to the event loop;
    over several, requests that arrive together must still meet in batches (a request that never yielded
    would keep the others unread, and they would run one by one)."""
    from http.client import HTTPConnection

    def runs() -> tuple[float, float]:
        """(model runs, runs of one item) for digit/1."""
        return (metric(server, "seqserve_batch_size_count", model="digit", version="1"),
                metric(server, "seqserve_batch_size_bucket", le="1.0", model="digit", version="1"))

    process, server = spawn_server(SEQSERVE_MODELS="digit")
    body = json.dumps({"images": [DIGIT_EXAMPLE]})
    headers = {"Content-Type": "application/json"}
    try:
        with httpx.Client(base_url=server, timeout=30) as http:
            for _ in range(5):  # one connection: the cost is learnt, and lone requests run inline
                assert http.post("/predict/digit", content=body, headers=headers).status_code == 200
            before = runs()
            port = int(server.rsplit(":", 1)[1])
            connections = [HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(8)]
            try:
                for _ in range(5):
                    for connection in connections:  # every request sent before any answer is read
                        connection.request("POST", "/predict/digit", body, headers)
                    for connection in connections:
                        answer = connection.getresponse()
                        assert answer.status == 200 and json.loads(answer.read())["predictions"][0]["digit"] == 7
            finally:
                for connection in connections:
                    connection.close()
            after = runs()
    finally:
        process.terminate()
        process.wait(timeout=30)
    batched = (after[0] - before[0]) - (after[1] - before[1])  # runs of more than one item
    assert batched > 0, (before, after)


@pytest.mark.parametrize("path", ["/health/live", "/health/ready", "/v2/health/live", "/v2/health/ready"])
def test_health_answers_head_as_get_without_a_body(server: str, path: str) -> None:
    with httpx.Client(base_url=server) as http:
        got = http.get(path)
        head = http.head(path)
        assert head.status_code == got.status_code == 200
        assert head.content == b"" and head.headers["content-length"] == got.headers["content-length"]
        assert http.get(path).status_code == 200  # the connection still serves after a HEAD
