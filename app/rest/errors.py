"""The typed API's error body, `{"detail": ...}`, as FastAPI writes its own, with the error's status."""

from __future__ import annotations

import orjson

SCHEMA = {"type": "object", "required": ["detail"], "properties": {"detail": {"type": "string"}}}


def render(status: int, message: str) -> tuple[int, bytes]:
    return status, orjson.dumps({"detail": message})
