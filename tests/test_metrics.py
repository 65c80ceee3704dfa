"""/metrics: counts that move with requests; the same labels for a request over every protocol; one scrape
showing every worker process, with no counter ever going down."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.grpc as triton
from fastapi.testclient import TestClient
from tritonclient.utils import InferenceServerException
from websockets.sync.client import connect

from app.metrics import forget_dead_workers
from app.tasks.digit import DIGIT_EXAMPLE
from tests.conftest import Samples, free_port, requests_of, spawn_server
from tests.conftest import parse_metrics as parse


def samples(client: TestClient) -> Samples:
    return parse(client.get("/metrics").text)


def test_counts_move_with_requests(client: TestClient) -> None:
    route = {"protocol": "rest", "route": "/predict/digit", "model": "digit", "version": "1"}
    before = samples(client)
    for _ in range(3):
        assert client.post("/predict/digit", json={"images": [DIGIT_EXAMPLE]}).status_code == 200
    assert client.post("/predict/digit", json={"images": []}).status_code == 422
    after = samples(client)
    assert requests_of(after, **route, outcome="ok") - requests_of(before, **route, outcome="ok") == 3
    bad = requests_of(after, **route, outcome="invalid_argument") - requests_of(before, **route,
                                                                                outcome="invalid_argument")
    assert bad == 1
    digit = (("model", "digit"), ("version", "1"))
    batches = ("seqserve_batch_size_count", digit)
    assert after[batches] - before.get(batches, 0) >= 1
    assert after[("seqserve_model_state", (("model", "digit"), ("state", "ready"), ("version", "1")))] == 1
    assert ("seqserve_queue_items", digit) in after
    latency = ("seqserve_request_duration_seconds_count", (("protocol", "rest"), ("route", "/predict/digit")))
    assert after[latency] >= 4
    assert ("seqserve_inference_seconds_sum", digit) in after


@pytest.fixture(scope="module")
def every_protocol() -> Iterator[tuple[str, str]]:
    """(HTTP url, gRPC address) of one server."""
    grpc_port = free_port()
    process, url = spawn_server(SEQSERVE_GRPC_PORT=str(grpc_port))
    try:
        yield url, f"127.0.0.1:{grpc_port}"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def stream_step_over(protocol: str, url: str, address: str, values: list[object]) -> None:
    """One sine_stream step of these values over `protocol`; good or bad, the answer is the server's to count."""
    if protocol == "rest":
        httpx.post(f"{url}/predict/sine/stream", json={"values": values})
    elif protocol == "v2":
        data = {"name": "values", "datatype": "FP32", "shape": [1, len(values)], "data": values}
        httpx.post(f"{url}/v2/models/sine_stream/infer", json={"inputs": [data]})
    elif protocol == "grpc":
        tensor = triton.InferInput("values", [1, len(values)], "FP32")
        with np.errstate(over="ignore"):  # beyond float32 is the point: it arrives as infinity
            tensor.set_data_from_numpy(np.asarray([values], dtype=np.float32))
        with contextlib.suppress(InferenceServerException):
            triton.InferenceServerClient(address).infer("sine_stream", [tensor])
    else:
        with connect(url.replace("http://", "ws://") + "/predict/sine/stream/ws") as ws:
            ws.send(json.dumps({"values": values}))
            ws.recv()


ROUTES = {"rest": "/predict/sine/stream", "v2": "/v2/models/{name}/infer", "grpc": "ModelInfer",
          "websocket": "/predict/sine/stream/ws"}


@pytest.mark.parametrize("protocol", list(ROUTES))
def test_a_request_carries_the_same_labels_over_every_protocol(every_protocol: tuple[str, str],
                                                               protocol: str) -> None:
    """The same stream step, good then bad (a value beyond float32), counted with the same model, version
    and outcome whichever protocol carried it."""
    url, address = every_protocol
    labels = {"protocol": protocol, "route": ROUTES[protocol], "model": "sine_stream", "version": "1"}
    before = parse(httpx.get(f"{url}/metrics").text)
    stream_step_over(protocol, url, address, [0.5, 0.6])
    stream_step_over(protocol, url, address, [0.5, 1e39])
    after = parse(httpx.get(f"{url}/metrics").text)
    for outcome in ("ok", "invalid_argument"):
        moved = requests_of(after, **labels, outcome=outcome) - requests_of(before, **labels, outcome=outcome)
        assert moved == 1, (outcome, labels)


def test_one_scrape_shows_every_worker_and_no_counter_goes_down() -> None:
    """`python -m app --workers 2`: requests on new connections spread over both processes; each scrape,
    whichever process answers it, counts all of them, and no counter ever moves back."""
    process, url = spawn_server("--workers", "2", SEQSERVE_MODELS="digit")
    try:
        sent = 0
        seen: Samples = {}
        for _ in range(20):
            for _ in range(5):  # a new connection each: the kernel hands them to either worker
                assert httpx.post(f"{url}/predict/digit", json={"images": [DIGIT_EXAMPLE]}).status_code == 200
                sent += 1
            scrape = parse(httpx.get(f"{url}/metrics").text)
            assert requests_of(scrape, route="/predict/digit", outcome="ok") == sent
            assert scrape[("seqserve_model_state", (("model", "digit"), ("state", "ready"), ("version", "1")))] == 2
            assert scrape[("seqserve_requests_in_flight", ())] == 1  # the scrape: every worker's answered ones left
            for key, value in scrape.items():
                name = key[0]
                if name.endswith(("_total", "_count", "_sum", "_bucket")) and key in seen:
                    assert value >= seen[key], key
            seen = scrape
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def test_the_gauge_files_of_dead_workers_are_removed(tmp_path: Path) -> None:
    """A killed worker never cleans up after itself: the next scrape drops its live gauges, keeps its counters."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = os.getpid()
    for name in (f"gauge_livesum_{dead.pid}.db", f"gauge_livesum_{alive}.db", f"counter_{dead.pid}.db"):
        (tmp_path / name).write_bytes(b"")
    forget_dead_workers(str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"counter_{dead.pid}.db",
                                                                 f"gauge_livesum_{alive}.db"])


def test_streams_sequences_steps_and_refused_tokens_are_counted() -> None:
    from tests.conftest import make_client, total, wait_ready

    key = {"model": "sine_stream", "version": "1"}
    with make_client(models="sine_stream", sequence_ttl_min=0.001) as client:  # a sequence idles out in 60 ms
        wait_ready(client)
        with client.websocket_connect("/predict/sine/stream/ws") as socket:
            socket.send_text(json.dumps({"values": [0.1, 0.2]}))
            token = socket.receive_json()["state"]
            assert total(samples(client), "seqserve_streams_open", **key) == 1
        step = {"inputs": [{"name": "values", "datatype": "FP32", "shape": [1, 2], "data": [0.1, 0.2]}],
                "parameters": {"sequence_id": "s", "sequence_start": True}}
        assert client.post("/v2/models/sine_stream/infer", json=step).status_code == 200
        assert total(samples(client), "seqserve_sequences_live", **key) == 1
        assert client.post("/predict/sine/stream", json={"values": [0.3], "state": token}).status_code == 200
        altered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        for state, status in ((altered, 400), ("nonsense", 400)):
            assert client.post("/predict/sine/stream", json={"values": [0.3], "state": state}).status_code == status
        found = samples(client)
        assert total(found, "seqserve_streams_open", **key) == 0  # the connection closed
        assert [total(found, "seqserve_stream_steps_total", protocol=p, **key) for p in ("websocket", "v2", "rest")] \
            == [1, 1, 1]
        assert total(found, "seqserve_token_rejections_total", reason="signature", **key) == 1
        assert total(found, "seqserve_token_rejections_total", reason="malformed", **key) == 1
        time.sleep(0.1)
        step["parameters"] = {"sequence_id": "t", "sequence_start": True}  # any sequence request reaps the idle
        assert client.post("/v2/models/sine_stream/infer", json=step).status_code == 200
        found = samples(client)
        assert total(found, "seqserve_sequence_expiries_total", **key) == 1
        assert total(found, "seqserve_sequences_live", **key) == 1  # "s" expired, "t" lives
