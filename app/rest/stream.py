"""`POST /models/{name}/stream`: one step of a stream of any model whose manifest declares state, the state
carried in a signed token the client sends back (app/tasks/recurrent.py). Its WebSocket twin is
`/models/{name}/stream/ws` (app/websocket/routes.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from app.http.body import read_json_body
from app.http.deps import Authorized, CallDep, DataPlaneDep
from app.http.openapi import RUNS_MODEL
from app.http.responses import FastJSONResponse
from app.rest.predict import QUERY_PARAMETERS, parse_query

VERSION_PARAMETER = next(p for p in QUERY_PARAMETERS if p["name"] == "version")

router = APIRouter(tags=["streams"])

# A step of the committed stream forecaster through this route: its graph's one step input, `values` [T].
EXAMPLE: dict[str, Any] = {"inputs": {"values": [0.42]}, "state": None}


class StreamStepRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE]})

    inputs: dict[str, Any] = Field(description="This step's input tensors, one stream's: name -> nested lists, "
                                               "without the batch axis; the state inputs are carried, not sent.")
    state: str | None = Field(None, description="The previous answer's `state`; null starts a stream.")


class StreamStepResponse(BaseModel):
    model: str
    version: int
    outputs: dict[str, Any] = Field(description="The step's output tensors, one stream's, without the batch axis.")
    state: str = Field(description="Send it back as `state` with the next step.")
    steps: int = Field(description="Steps this stream has taken.")


@router.post("/models/{name}/stream", dependencies=[Authorized], response_model=StreamStepResponse,
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": StreamStepRequest.model_json_schema(), "example": EXAMPLE}}},
                 "parameters": [VERSION_PARAMETER], **RUNS_MODEL},
             summary="One step of a stream of any stateful model, its state in the token")
async def stream_step(name: Annotated[str, Path(description="A model whose manifest declares state",
                                                 examples=["sine_stream"])],
                      request: Request, dataplane: DataPlaneDep, call: CallDep) -> FastJSONResponse:
    body = await read_json_body(request.headers.get("content-type", "").encode("latin-1") or None, request.receive)
    version, _ = parse_query(request.scope["query_string"])  # read as the typed routes read it
    return FastJSONResponse(await dataplane.stream(name, version, body, call))
