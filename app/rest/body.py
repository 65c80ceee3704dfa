"""Read a JSON body fast: orjson straight from bytes, no per-element pydantic validation.

Validating big numeric arrays element by element costs more than the model; tasks check arrays
whole with numpy instead. The typed schemas still document the bodies in OpenAPI (see `json_body`).
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel
from starlette.requests import Request

from app.rest.errors import BodyError
from app.tasks.base import InputError


async def read_json_object(request: Request) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise BodyError(415, f"expected Content-Type application/json, got {content_type or 'none'!r}")
    raw = await request.body()
    if not raw:
        raise BodyError(400, "empty body; expected a JSON object")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BodyError(400, f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"body must be a JSON object, got {type(data).__name__}")
    return data


def require(body: dict[str, Any], field: str) -> Any:
    if field not in body:
        raise InputError(f"missing field {field!r}")
    return body[field]


def reject_unknown(body: dict[str, Any], model: type[BaseModel]) -> None:
    unknown = sorted(set(body) - set(model.model_fields))
    if unknown:
        raise InputError(f"unknown field(s) {', '.join(map(repr, unknown))}; expected {sorted(model.model_fields)}")


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI requestBody for a route that reads its body itself: the model's schema and example."""
    schema = model.model_json_schema()
    example = schema.get("examples", [None])[0]
    content: dict[str, Any] = {"schema": schema}
    if example is not None:
        content["example"] = example
    return {"requestBody": {"required": True, "content": {"application/json": content}}}
