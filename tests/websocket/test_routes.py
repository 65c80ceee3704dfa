"""WebSocket /predict/sine/stream/ws with a real client (websockets) against a real server: state kept
by the connection, equal to HTTP streaming, bad frames answered, limits closing with their codes."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.conftest import spawn_server
from tests.rest.test_sine_stream import series

KEY = "ws-secret"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    process, http = spawn_server(SEQSERVE_API_KEY=KEY, SEQSERVE_WS_MAX_MESSAGES_PER_S="200",
                                 SEQSERVE_WS_IDLE_TIMEOUT_S="1.0", SEQSERVE_WS_MAX_MESSAGE_BYTES="4096")
    try:
        yield http
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def ws(url: str, query: str = ""):  # type: ignore[no-untyped-def]
    return connect(url.replace("http://", "ws://") + "/predict/sine/stream/ws" + query, additional_headers=AUTH)


def closed_code(connection) -> int:  # type: ignore[no-untyped-def]
    with pytest.raises(ConnectionClosed) as closed:
        for _ in range(1000):  # answers to frames sent before the close come first
            connection.recv(timeout=5)
    assert closed.value.rcvd is not None
    return int(closed.value.rcvd.code)


def test_one_value_per_frame_equals_http_all_at_once(url: str) -> None:
    values = series(50)
    whole = httpx.post(f"{url}/predict/sine/stream", json={"values": values}, headers=AUTH).json()
    with ws(url) as connection:
        for index, value in enumerate(values):
            connection.send(json.dumps({"values": [value]}))
            answer = json.loads(connection.recv(timeout=5))
            assert answer["observed"] == index + 1 and answer["model"] == "sine_stream"
    np.testing.assert_allclose(answer["forecast"], whole["forecast"], atol=1e-5)
    # the last frame's token resumes the stream over HTTP, and an HTTP token resumes it over a WebSocket
    more = httpx.post(f"{url}/predict/sine/stream", json={"values": [0.5], "state": answer["state"]}, headers=AUTH)
    assert more.status_code == 200 and more.json()["observed"] == 51
    with ws(url) as connection:
        connection.send(json.dumps({"values": [0.5], "state": answer["state"]}))
        resumed = json.loads(connection.recv(timeout=5))
    np.testing.assert_allclose(resumed["forecast"], more.json()["forecast"], atol=1e-5)


def test_bad_frames_are_answered_and_the_stream_goes_on(url: str) -> None:
    with ws(url) as connection:
        for frame, words in [("{bad", "not valid JSON"), ("[1]", "JSON object"), ('{"values": []}', "values"),
                             ('{"values": [1], "horizon": 999}', "horizon"), ('{"nope": 1}', "unknown field"),
                             ('{"values": [1], "state": "x.y"}', "state token")]:
            connection.send(frame)
            answer = json.loads(connection.recv(timeout=5))
            assert words in answer["error"] and 400 <= answer["status"] < 500, answer
        connection.send(json.dumps({"values": [1.0, 2.0]}))
        assert json.loads(connection.recv(timeout=5))["observed"] == 2
        connection.send(json.dumps({"values": [3.0], "state": "abc.def"}))  # only the first frame may resume
        assert "first frame" in json.loads(connection.recv(timeout=5))["error"]


def test_limits_close_with_their_codes(url: str) -> None:
    with ws(url) as connection:
        connection.send(b"\x00\x01")
        assert closed_code(connection) == 1003
    with ws(url) as connection:
        connection.send(json.dumps({"values": [1.0] * 2000}))  # over 4,096 bytes
        assert closed_code(connection) == 1009
    with ws(url) as connection:
        connection.send(json.dumps({"state": "\u20ac" * 1500}, ensure_ascii=False))  # 1,514 characters, 4,514 bytes
        assert closed_code(connection) == 1009
    with ws(url) as connection:
        for _ in range(400):  # far over 200 frames a second
            connection.send(json.dumps({"values": [1.0]}))
        assert closed_code(connection) == 1008
    with ws(url) as connection:
        started = time.monotonic()
        assert closed_code(connection) == 1001
        assert 0.9 < time.monotonic() - started < 4
    with ws(url, "?model=nope") as connection:
        assert closed_code(connection) == 1008
    with pytest.raises(InvalidStatus):
        connect(url.replace("http://", "ws://") + "/predict/sine/stream/ws").recv(timeout=5)  # no API key
    assert httpx.get(f"{url}/health/ready").status_code == 200
