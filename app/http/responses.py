"""JSON responses serialised by orjson: numpy arrays and floats go out without a Python-side copy."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse


def json_bytes(content: Any) -> bytes:
    return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


class FastJSONResponse(JSONResponse):  # a JSONResponse, so OpenAPI documents a route's response_model

    def render(self, content: Any) -> bytes:
        return json_bytes(content)
