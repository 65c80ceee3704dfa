"""SIGTERM: in-flight requests finish, new ones are refused, the process exits."""

from __future__ import annotations

import signal
import threading
import time

import httpx

from tests.conftest import spawn_server


def test_sigterm_drains_in_flight_requests() -> None:
    # One request as long as the queue allows (2,016 items, run in parts), so it is surely in flight.
    process, url = spawn_server(SEQSERVE_MODELS="dates", SEQSERVE_REQUEST_TIMEOUT_S="60",
                                SEQSERVE_MAX_REQUEST_SHARE="1", SEQSERVE_CLIENT_QUEUE_SHARE="1")
    try:
        result: dict[str, object] = {}

        def long_request() -> None:
            texts = [f"{d} September {1950 + d}" for d in range(1, 29)] * 9
            response = httpx.post(f"{url}/predict/translate", json={"texts": texts, "beam_size": 8}, timeout=60)
            result["status"] = response.status_code
            result["count"] = len(response.json()["translations"])

        worker = threading.Thread(target=long_request)
        worker.start()
        time.sleep(0.3)  # the request is in flight
        process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        refused = False
        try:
            httpx.get(f"{url}/health/live", timeout=2)
        except httpx.TransportError:
            refused = True
        worker.join(timeout=60)
        assert result == {"status": 200, "count": 252}
        assert refused
        # uvicorn drains, shuts the lifespan down, then re-raises the signal it caught: exit status -SIGTERM
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
