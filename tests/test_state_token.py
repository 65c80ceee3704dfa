"""State tokens without any server: what is signed comes back unaltered, anything else is refused by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.state_token import MAX_TOKEN_CHARS, StateTokenError, decode_array, encode_array, sign, verify

KEY = b"k" * 32


def test_a_signed_payload_comes_back_with_its_arrays() -> None:
    h = np.arange(6, dtype=np.float32).reshape(2, 3)
    token = sign(KEY, {"model": "m", "count": 3.0, "h": encode_array(h)})
    payload = verify(KEY, token)
    assert payload["model"] == "m" and payload["count"] == 3.0
    np.testing.assert_array_equal(decode_array(payload["h"], "h"), h)
    assert decode_array(payload["h"], "h").dtype == np.float32


@pytest.mark.parametrize(("token", "words"), [
    (None, "must be the token"),
    ("", "must be the token"),
    (12, "must be the token"),
    ("x" * (MAX_TOKEN_CHARS + 1), "far shorter"),
    ("no-dot", "truncated or not a state token"),
    ("a.", "truncated or not a state token"),
    ("%%%.%%%", "corrupt"),
])
def test_what_is_not_a_token_is_named(token: object, words: str) -> None:
    with pytest.raises(StateTokenError, match=words):
        verify(KEY, token)


def test_an_altered_or_foreign_token_does_not_verify() -> None:
    token = sign(KEY, {"count": 1.0})
    mac = token.split(".")[1]
    altered = sign(KEY, {"count": 2.0}).split(".")[0] + "." + mac
    with pytest.raises(StateTokenError, match="signature does not match"):
        verify(KEY, altered)
    with pytest.raises(StateTokenError, match="signature does not match"):
        verify(b"another key" * 3, token)
    with pytest.raises(StateTokenError, match="signature does not match"):
        verify(KEY, token[:-3] + "AAA")


def test_arrays_of_other_kinds_are_refused() -> None:
    with pytest.raises(StateTokenError, match="'h' is not an array"):
        decode_array({"dtype": "<U3", "shape": [1], "data": ""}, "h")
    with pytest.raises(StateTokenError, match="'h' is not an array"):
        decode_array({"dtype": "<f4", "shape": [3], "data": "AAAA"}, "h")  # 3 bytes for 3 floats
    with pytest.raises(StateTokenError, match="'c' is not an array"):
        decode_array("nope", "c")


def test_a_key_file_is_made_once_and_shared(tmp_path: Path) -> None:
    import concurrent.futures
    import stat

    from app.state_token import key_from_file

    path = tmp_path / "stream.key"
    with concurrent.futures.ThreadPoolExecutor(8) as pool:  # replicas starting together
        keys = set(pool.map(lambda _: key_from_file(path), range(8)))
    assert len(keys) == 1 and len(keys.pop()) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert key_from_file(path) == path.read_text().strip()


def test_two_servers_sharing_a_key_file_continue_each_others_streams(tmp_path: Path) -> None:
    from tests.conftest import make_client, wait_ready

    path = tmp_path / "stream.key"
    with make_client(models="sine_stream", stream_key_file=path) as first, \
            make_client(models="sine_stream", stream_key_file=path) as second:
        wait_ready(first)
        wait_ready(second)
        token = first.post("/predict/sine/stream", json={"values": [0.1, 0.2], "state": None}).json()["state"]
        resumed = second.post("/predict/sine/stream", json={"values": [0.3], "state": token})
        assert resumed.status_code == 200 and resumed.json()["observed"] == 3
