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
    payload = verify([KEY], token)
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
        verify([KEY], token)


def test_an_altered_or_foreign_token_does_not_verify() -> None:
    token = sign(KEY, {"count": 1.0})
    mac = token.split(".")[1]
    altered = sign(KEY, {"count": 2.0}).split(".")[0] + "." + mac
    with pytest.raises(StateTokenError, match="signature does not match"):
        verify([KEY], altered)
    with pytest.raises(StateTokenError, match="signature does not match"):
        verify([b"another key" * 3], token)
    with pytest.raises(StateTokenError, match="signature does not match"):
        verify([KEY], token[:-3] + "AAA")


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


def tokens_and_models(tmp_path: Path) -> Path:
    """A repository with sine_stream and a copy of it named other_stream."""
    import json
    import shutil

    from tests.conftest import MODELS

    shutil.copytree(MODELS / "sine_stream", tmp_path / "sine_stream")
    shutil.copytree(MODELS / "sine_stream", tmp_path / "other_stream")
    manifest = tmp_path / "other_stream" / "1" / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "name": "other_stream"}))
    return tmp_path


def test_each_bad_token_gets_its_own_answer_and_keys_rotate(tmp_path: Path) -> None:
    from tests.conftest import make_client, wait_ready

    repo = tokens_and_models(tmp_path)
    step = {"values": [0.1, 0.2], "state": None}
    with make_client(model_dir=repo, stream_keys="old-key") as old:
        wait_ready(old)
        by_old = old.post("/predict/sine/stream", json=step).json()["state"]
    with make_client(model_dir=repo, stream_keys="new-key,old-key") as rotating:
        wait_ready(rotating)

        def send(token: str, model: str = "sine_stream") -> tuple[int, str]:
            answer = rotating.post(f"/predict/sine/stream?model={model}", json={"values": [0.3], "state": token})
            return answer.status_code, answer.text

        assert send(by_old)[0] == 200  # signed under the previous key, still listed: the stream goes on
        by_new = rotating.post("/predict/sine/stream", json=step).json()["state"]
        assert verify([b"new-key"], by_new)["model"] == "sine_stream"  # new tokens: the first key signs
        body, mac = by_new.split(".")
        altered = body[:-2] + ("AA" if not body.endswith("AA") else "BB") + "." + mac
        old_format = encode_old_format(b"new-key", {"task": "sine_stream", "model": "sine_stream"})
        cases = {
            "altered": (altered, 400, "signature does not match"),
            "truncated": (by_new[: len(by_new) // 2], 400, "truncated"),
            "foreign key": (sign(b"someone else's key", {"task": "sine_stream"}), 400, "signature does not match"),
            "older format": (old_format, 400, "format 123"),
        }
        for name, (token, status, words) in cases.items():
            got, text = send(token)
            assert got == status and words in text, (name, got, text)
        got, text = send(by_new, model="other_stream")  # a token of another model
        assert got == 400 and "'sine_stream'" in text and "'other_stream'" in text, text
    with make_client(model_dir=repo, stream_keys="new-key") as rotated:  # the old key dropped
        wait_ready(rotated)
        answer = rotated.post("/predict/sine/stream", json={"values": [0.3], "state": by_old})
        assert answer.status_code == 400 and "signature does not match" in answer.text


def encode_old_format(key: bytes, payload: dict[str, object]) -> str:
    """A token as servers wrote them before the format byte: the JSON signed as it is."""
    import base64
    import hashlib
    import hmac

    import orjson

    body = orjson.dumps(payload)
    b64 = lambda data: base64.urlsafe_b64encode(data).rstrip(b"=").decode()  # noqa: E731
    return f"{b64(body)}.{b64(hmac.new(key, body, hashlib.sha256).digest())}"
