"""The Open Inference Protocol's bodies as OpenAPI documents them: what each /v2 route answers and what
an inference request may hold. Only for the document: the routes answer the data plane's dicts
(app/dataplane/describe.py) and the codec's bytes (app/v2/codec.py)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DATATYPES = ("BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32",
             "FP64", "BYTES")
Datatype = Literal["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16",
                   "FP32", "FP64", "BYTES"]


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")  # the protocol lets servers add fields


class ServerMetadata(Open):
    name: str
    version: str
    extensions: list[str]


class Live(Open):
    live: bool


class Ready(Open):
    ready: bool


class ModelReady(Open):
    name: str
    ready: bool


class TensorMetadata(Open):
    name: str
    datatype: Datatype
    shape: list[int] = Field(description="-1 for a dimension of any size.")


class ModelMetadata(Open):
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]


class OutputTensor(Open):
    name: str
    datatype: Datatype
    shape: list[int]
    data: list[Any] | None = Field(None, description="Row-major values; absent when the tensor travels as binary "
                                   "data after the JSON (parameters.binary_data_size).")
    parameters: dict[str, Any] | None = None


class InferResponse(Open):
    model_name: str
    model_version: str
    id: str | None = None
    outputs: list[OutputTensor]


class ModelStatistics(Open):
    model_stats: list[dict[str, Any]] = Field(description="Per version: counts and durations in Triton's shape.")


class ModelConfig(Open):
    name: str
    platform: str
    backend: str
    max_batch_size: int
    input: list[dict[str, Any]]
    output: list[dict[str, Any]]


class RepositoryModel(Open):
    name: str
    version: str
    state: str
    reason: str


INFER_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["inputs"], "properties": {
        "id": {"type": "string"},
        "inputs": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["name", "shape", "datatype"], "properties": {
                "name": {"type": "string"},
                "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                "datatype": {"type": "string", "enum": list(DATATYPES)},
                "data": {"type": "array", "description": "Values, nested or flat, row-major; or binary data after "
                                                         "the JSON (parameters.binary_data_size)."},
                "parameters": {"type": "object"}}}},
        "outputs": {"type": "array", "items": {"type": "object", "required": ["name"],
                                               "properties": {"name": {"type": "string"},
                                                              "parameters": {"type": "object"}}}},
        "parameters": {"type": "object", "description": "timeout (microseconds), sequence_id, sequence_start, "
                                                        "sequence_end, binary_data_output."}},
}


def ok(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a route whose 200 answers `model`."""
    return {200: {"model": model}}
