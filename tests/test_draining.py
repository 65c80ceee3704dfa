"""SIGTERM with a drain time: readiness turns 503 on every protocol while requests are still served (each
answer ending its connection), then the server stops accepting, finishes what is in flight and exits."""

from __future__ import annotations

import signal
import threading
import time

import httpx
import tritonclient.grpc as triton

from tests.conftest import free_port, parse_metrics, spawn_server, total, wait_for

DRAIN_S = 3.0


def accepting(url: str) -> bool:
    try:
        httpx.get(f"{url}/health/live", timeout=2)
    except httpx.TransportError:
        return False
    return True


def test_sigterm_turns_readiness_503_first_serves_on_then_stops() -> None:
    grpc_port = free_port()
    process, url = spawn_server(SEQSERVE_MODELS="dates", SEQSERVE_DRAIN_S=str(DRAIN_S), SEQSERVE_REQUEST_TIMEOUT_S="60",
                                SEQSERVE_MAX_REQUEST_SHARE="1", SEQSERVE_CLIENT_QUEUE_SHARE="1",
                                SEQSERVE_GRPC_PORT=str(grpc_port))
    try:
        result: dict[str, object] = {}

        def long_request() -> None:
            texts = [f"{d} September {1950 + d}" for d in range(1, 29)] * 9
            response = httpx.post(f"{url}/predict/translate", json={"texts": texts, "beam_size": 8}, timeout=60)
            result["status"], result["count"] = response.status_code, len(response.json()["translations"])

        worker = threading.Thread(target=long_request)
        worker.start()
        # The long request and the scrape itself are in flight.
        wait_for(lambda: total(parse_metrics(httpx.get(f"{url}/metrics").text),
                               "seqserve_requests_in_flight") == 2, 10)
        grpc = triton.InferenceServerClient(f"127.0.0.1:{grpc_port}")
        assert grpc.is_server_ready()
        signaled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        wait_for(lambda: httpx.get(f"{url}/health/ready").status_code == 503, 2)
        assert httpx.get(f"{url}/health/ready").json()["status"] == "draining"
        assert httpx.get(f"{url}/v2/health/ready").status_code == 503
        assert not grpc.is_server_ready()
        # Still served while the balancers learn; every answer ends its connection.
        response = httpx.post(f"{url}/predict/translate", json={"texts": ["4 July 1976"]})
        assert response.status_code == 200
        assert response.json()["translations"][0]["text"] == "1976-07-04"
        assert response.headers["connection"] == "close"
        assert httpx.get(f"{url}/health/live").status_code == 200
        wait_for(lambda: not accepting(url), DRAIN_S + 30)
        assert time.monotonic() - signaled >= DRAIN_S - 0.5
        worker.join(timeout=60)
        assert result == {"status": 200, "count": 252}
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()


def test_a_second_sigterm_ends_the_drain_at_once() -> None:
    process, url = spawn_server(SEQSERVE_MODELS="digit", SEQSERVE_DRAIN_S="60")
    try:
        process.send_signal(signal.SIGTERM)
        wait_for(lambda: httpx.get(f"{url}/health/ready").status_code == 503, 2)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
