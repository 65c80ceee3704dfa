"""State tokens: a stream's whole state, in the client's hands, signed so it comes back unaltered.

`token = base64url(body) "." base64url(HMAC-SHA256(key, body))`, where `body` is a format byte (2), the
length of a JSON header (4 bytes, big-endian), the header (which model and version signed it, and what
the state holds), then the state itself as raw little-endian bytes: binary, not decimal text, so a token
is about 4/3 of the state's bytes plus its header. The server keeps nothing per stream: any worker or
replica holding the key takes the next step, and a restart loses no stream.

Keys rotate without breaking a stream: tokens are signed with the first key listed and accepted under any
of them (app/settings.py `signing_keys`), so a new key goes first while the old one stays listed for as long
as a stream may last, and is then removed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from app.errors import BadRequest, Conflict

MAX_TOKEN_CHARS = 65536
FORMAT = 2  # the first byte of a token's signed part: then the header's length, the JSON header, the state bytes


class StateTokenError(BadRequest):
    """A token that is not one of ours, or not as we signed it; the message names which, `reason` the kind
    (what the metrics count): malformed, signature, other_model, state."""

    def __init__(self, message: str, reason: str = "malformed") -> None:
        super().__init__(message)
        self.token_reason = reason


class StateTokenVersionError(Conflict):
    """A token of this model signed by another of its versions: well formed, but not for this version."""

    token_reason = "other_version"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


def encode_array(array: np.ndarray) -> dict[str, Any]:
    little = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    return {"dtype": little.dtype.str, "shape": list(little.shape), "data": _b64(little.tobytes())}


def decode_array(value: Any, field: str) -> np.ndarray:
    try:
        dtype = np.dtype(value["dtype"])
        if dtype.kind not in "fiu":
            raise ValueError(dtype)
        return np.frombuffer(_unb64(value["data"]), dtype=dtype).reshape(value["shape"]).copy()
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise StateTokenError(f"state token field {field!r} is not an array", "state") from None


def key_from_file(path: Path) -> str:
    """The stream key kept in `path`, made there first (a new random key, mode 0600) if there is none yet.
    Several processes may start together: one creates the file, the others read what it wrote."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another process is writing it: its key is a moment away
            key = path.read_text().strip()
            if key:
                return key
            time.sleep(0.1)
        raise RuntimeError(f"{path} is empty: write a stream key into it, or remove it to have one made") from None
    key = secrets.token_urlsafe(32)
    with os.fdopen(descriptor, "w") as file:
        file.write(key + "\n")
    return key


def key_for_run(key_file: Path | None) -> str:
    """A stream key where none is configured: the shared file's (made there if need be), else a new one,
    good for this run only."""
    return key_from_file(key_file) if key_file is not None else secrets.token_urlsafe(32)


def sign(key: bytes, payload: dict[str, Any], blob: bytes = b"") -> str:
    header = orjson.dumps(payload)
    body = bytes([FORMAT]) + len(header).to_bytes(4, "big") + header + blob
    return f"{_b64(body)}.{_b64(hmac.new(key, body, hashlib.sha256).digest())}"


def verify(keys: Sequence[bytes], token: Any) -> dict[str, Any]:
    """The header of a token one of these keys signed; StateTokenError saying what is wrong otherwise."""
    return unseal(keys, token)[0]


def unseal(keys: Sequence[bytes], token: Any) -> tuple[dict[str, Any], bytes]:
    """The header and the state bytes of a token one of these keys signed."""
    if not isinstance(token, str) or not token:
        raise StateTokenError("'state' must be the token of an earlier answer (a string), or null to start")
    if len(token) > MAX_TOKEN_CHARS:
        raise StateTokenError(f"state token is {len(token)} characters; ours are far shorter")
    parts = token.split(".")
    if len(parts) != 2 or not all(parts):
        raise StateTokenError("state token is truncated or not a state token (expected <payload>.<signature>)")
    try:
        body, mac = _unb64(parts[0]), _unb64(parts[1])
    except (binascii.Error, ValueError):
        raise StateTokenError("state token is truncated or corrupt (not base64url)") from None
    # Every key is tried, so the time taken says nothing about which one (if any) came close.
    matches = [hmac.compare_digest(mac, hmac.new(key, body, hashlib.sha256).digest()) for key in keys]
    if not any(matches):
        raise StateTokenError("state token signature does not match: it was altered, truncated, or signed with "
                              "another server's key (give every replica the same SEQSERVE_STREAM_KEY)", "signature")
    if body[0] != FORMAT:  # signed by us, in a format this server does not read (an older one)
        raise StateTokenError(f"state token is in format {body[0]}; this server reads format {FORMAT}: start a new "
                              "stream (state null)")
    length = int.from_bytes(body[1:5], "big")
    try:
        payload = orjson.loads(body[5 : 5 + length])
    except orjson.JSONDecodeError:
        payload = None
    if len(body) < 5 + length or not isinstance(payload, dict):
        raise StateTokenError("state token header is not an object")
    return payload, body[5 + length :]
