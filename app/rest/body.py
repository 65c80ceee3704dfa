"""Read a JSON body fast: orjson straight from bytes, no per-element pydantic validation.

Validating big numeric arrays element by element costs more than the model; tasks check arrays
whole with numpy instead. The tasks' typed request models still document the bodies in OpenAPI.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from app.errors import BadRequest, InputError, UnsupportedMediaType


async def read_json_object(request: Request) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise UnsupportedMediaType(f"expected Content-Type application/json, got {content_type or 'none'!r}")
    raw = await request.body()
    if not raw:
        raise BadRequest("empty body; expected a JSON object")
    return parse_json_object(raw)


def parse_json_object(raw: bytes | str, what: str = "body") -> dict[str, Any]:
    """A JSON object (a body, a WebSocket frame): 400 when not JSON, 422 when not an object."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{what} must be a JSON object, got {type(data).__name__}")
    return data
