"""Read a JSON body fast: orjson straight from bytes, no per-element pydantic validation.

Validating big numeric arrays element by element costs more than the model; tasks check arrays
whole with numpy instead. The tasks' typed request models still document the bodies in OpenAPI.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import ClientDisconnect
from starlette.types import Receive

from app.errors import BadRequest, InputError, UnsupportedMediaType
from app.http import numeric_json
from app.http.numeric_json import Shapes


async def read_json_body(content_type: bytes | None, receive: Receive, arrays: Shapes | None = None
                         ) -> dict[str, Any]:
    """A request's JSON object body, read straight from the ASGI `receive` (415, 400, 422 as it goes);
    `content_type` is the request's header, raw; `arrays` as for `parse_json_object`."""
    declared = content_type.decode("latin-1") if content_type is not None else ""
    if declared.split(";")[0].strip().lower() != "application/json":
        raise UnsupportedMediaType(f"expected Content-Type application/json, got {declared or 'none'!r}")
    raw = await read_body(receive)
    if not raw:
        raise BadRequest("empty body; expected a JSON object")
    return parse_json_object(raw, arrays=arrays)


async def read_body(receive: Receive) -> bytes:
    """The whole body; a body in one message (the usual case) is not copied."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        body: bytes = message.get("body", b"")
        if not message.get("more_body", False):
            if not chunks:
                return body
            chunks.append(body)
            return b"".join(chunks)
        chunks.append(body)


def parse_json_object(raw: bytes | str, what: str = "body", arrays: Shapes | None = None) -> dict[str, Any]:
    """A JSON object (a body, a WebSocket frame): 400 when not JSON, 422 when not an object. Fields named
    in `arrays` come as numpy arrays when they hold items of their shape (app/http/numeric_json.py)."""
    if arrays and isinstance(raw, bytes) and (body := numeric_json.decode(raw, arrays)) is not None:
        return body
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{what} must be a JSON object, got {type(data).__name__}")
    return data
