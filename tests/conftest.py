from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

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


def wait_for(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Poll a condition that another thread will make true (the tests' way to wait without fixed sleeps)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.005)


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse_metrics(text: str) -> Samples:
    """Every sample of a /metrics text: (name, sorted labels) -> value."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def total(found: Samples, metric_name: str, **labels: str) -> float:
    """The sum of a metric's samples that carry these labels (0 when none)."""
    return sum(value for (name, pairs), value in found.items()
               if name == metric_name and labels.items() <= dict(pairs).items())


def requests_of(found: Samples, **labels: str) -> float:
    return total(found, "seqserve_requests_total", **labels)


def request_counts(text: str, *labels: str) -> dict[tuple[str, ...], float]:
    """Every request series of a /metrics text, keyed by the values of these labels."""
    return {tuple(dict(pairs)[label] for label in labels): value
            for (name, pairs), value in parse_metrics(text).items() if name == "seqserve_requests_total"}


def queued_items(client: TestClient, model: str) -> float:
    """A model version's queue depth ("digit/1"), as /metrics reports it."""
    name, version = model.split("/")
    return total(parse_metrics(client.get("/metrics").text), "seqserve_queue_items", model=name, version=version)


def metric(url: str, name: str, **labels: str) -> float:
    """The sum of a metric's samples with these labels, from a running server's /metrics (0 when none)."""
    assert labels  # labels given
    return total(parse_metrics(httpx.get(f"{url}/metrics").text), name, **labels)


@dataclass
class Stall:
    running: threading.Event  # set once a batch is inside the model
    release: threading.Event  # set it to let the batch finish


@contextlib.contextmanager
def stalled(client: TestClient, model: str = "digit") -> Iterator[Stall]:
    """Every batch of `model` waits inside the model until `release` is set (or 10 s pass)."""
    batcher = client.app.state.registry.get(model).batcher  # type: ignore[attr-defined]
    original = batcher._run_batch
    stall = Stall(threading.Event(), threading.Event())

    def stuck(payloads: list[Any]) -> list[Any]:
        stall.running.set()
        stall.release.wait(10)
        return list(original(payloads))

    batcher._run_batch, bound = stuck, batcher.inline_max_s
    batcher.inline_max_s = 0.0  # a stuck model must hold its worker thread, never the event loop
    try:
        yield stall
    finally:
        batcher._run_batch, batcher.inline_max_s = original, bound
        stall.release.set()


def make_client(**overrides: object) -> TestClient:
    overrides.setdefault("grpc_port", 0)  # many apps in one process: no gRPC unless a test asks for it
    settings = Settings(model_dir=overrides.pop("model_dir", MODELS), device="cpu", **overrides)  # type: ignore[arg-type]
    return TestClient(create_app(settings), raise_server_exceptions=False)


@pytest.fixture(scope="session")
def client() -> Iterator[TestClient]:
    """The service over the committed models, loaded and warm."""
    with make_client() as test_client:
        state = wait_ready(test_client)
        assert state["status"] == "ready", state
        yield test_client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spawn_server(*args: str, log_to: IO[bytes] | None = None, **env: str) -> tuple[subprocess.Popen[bytes], str]:
    """`python -m app` in its own process on a free loopback port, ready to serve; returns (process, url).
    `log_to`: a file for what it logs (else it is dropped)."""
    port = free_port()
    full_env = {**os.environ, "SEQSERVE_MODEL_DIR": str(MODELS), "SEQSERVE_DEVICE": "cpu", "SEQSERVE_WORKERS": "1",
                "SEQSERVE_GRPC_PORT": "0", **env}
    process = subprocess.Popen([sys.executable, "-m", "app", "--host", "127.0.0.1", "--port", str(port), *args],
                               cwd=ROOT, env=full_env, stdout=subprocess.DEVNULL,
                               stderr=log_to if log_to is not None else subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_until_serving(process, url, every_worker="--workers" in args)
    return process, url


def wait_until_serving(process: subprocess.Popen[bytes], url: str, every_worker: bool, timeout_s: float = 60) -> None:
    """Until the server at `url` answers ready, or fail the test (and kill it) if it exits or times out.

    Each worker is ready on its own: with several, one ready answer may come from the first of them.
    Twenty in a row on new connections (the kernel spreads them) leave a loading worker no place to hide."""
    deadline = time.monotonic() + timeout_s
    wanted = 20 if every_worker else 1
    in_a_row = 0
    while True:
        try:
            ready = httpx.get(f"{url}/health/ready", timeout=1).status_code == 200
        except httpx.TransportError:
            ready = False
        in_a_row = in_a_row + 1 if ready else 0
        if in_a_row >= wanted:
            return
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"server did not become ready (exit status {process.poll()})")
        if not ready:
            time.sleep(0.2)


@pytest.fixture(scope="session")
def server() -> Iterator[str]:
    process, url = spawn_server()
    try:
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
