"""The real thing: `python -m app` in its own process, over a socket."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from app.rest.schemas import DIGIT_EXAMPLE
from tests.conftest import MODELS, ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "SEQSERVE_MODEL_DIR": str(MODELS), "SEQSERVE_DEVICE": "cpu"}
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
            time.sleep(0.2)
        else:
            pytest.fail("server did not become ready")
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


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


def test_concurrent_requests_are_answered_in_order(server: str) -> None:
    import concurrent.futures

    def ask(i: int) -> str:
        text = f"{1 + i % 28} May {1960 + i}"
        response = httpx.post(f"{server}/predict/translate", json={"texts": [text]}, timeout=30)
        return str(response.json()["translations"][0]["text"])

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(ask, range(48)))
    assert answers == [f"{1960 + i}-05-{1 + i % 28:02d}" for i in range(48)]
