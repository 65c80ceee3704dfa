"""The Open Inference Protocol's error body, `{"error": ...}`, with 422 sent as 400: the protocol has
one status for bad input."""

from __future__ import annotations

import orjson

SCHEMA = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}


def render(status: int, message: str) -> tuple[int, bytes]:
    return (400 if status == 422 else status), orjson.dumps({"error": message})
