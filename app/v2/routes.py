"""/v2: the Open Inference Protocol's REST adapter. Every route is one data plane call; errors (raised
as `ServeError`s anywhere) come back as {"error": ...} (app/v2/errors.py), as clients parse them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from app.dataplane import Call, DataPlane, Inference
from app.http.deps import Authorized, CallDep, DataPlaneDep
from app.http.openapi import RUNS_MODEL
from app.http.responses import FastJSONResponse
from app.v2.codec import CodecError, encode_infer_response, parse_infer_request
from app.v2.schemas import (
    INFER_REQUEST_SCHEMA,
    InferResponse,
    Live,
    ModelConfig,
    ModelMetadata,
    ModelReady,
    ModelStatistics,
    Ready,
    ServerMetadata,
    ok,
)

router = APIRouter(prefix="/v2", tags=["open inference protocol (v2)"])

ModelName = Annotated[str, Path(description="Model name", examples=["dates"])]
ModelVersionPath = Annotated[str, Path(description="Model version", examples=["1"])]


@router.get("", summary="Server metadata", responses=ok(ServerMetadata))
async def server_metadata(dataplane: DataPlaneDep) -> dict[str, Any]:
    return dataplane.server_metadata()


@router.get("/health/live", summary="Server liveness (HEAD too)", responses=ok(Live))
async def server_live() -> dict[str, bool]:
    return {"live": True}


@router.get("/health/ready", summary="Server readiness (HEAD too)",
            responses={**ok(Ready), 503: {"model": Ready, "description": "Not ready"}})
async def server_ready(dataplane: DataPlaneDep) -> Response:
    ready = dataplane.readiness().ready
    return FastJSONResponse({"ready": ready}, status_code=200 if ready else 503)


# HEAD answers as GET without the body; one operation per path in OpenAPI.
router.add_api_route("/health/live", server_live, methods=["HEAD"], include_in_schema=False)
router.add_api_route("/health/ready", server_ready, methods=["HEAD"], include_in_schema=False)


@router.get("/models/stats", summary="Statistics of every model version (statistics extension)",
            responses=ok(ModelStatistics))
async def all_statistics(dataplane: DataPlaneDep) -> Response:
    return FastJSONResponse(dataplane.statistics())


@router.get("/models/{name}/stats", summary="Statistics of every version of a model",
            responses=ok(ModelStatistics))
async def statistics(name: ModelName, dataplane: DataPlaneDep) -> Response:
    return FastJSONResponse(dataplane.statistics(name))


@router.get("/models/{name}/versions/{version}/stats", summary="Statistics of a model version",
            responses=ok(ModelStatistics))
async def version_statistics(name: ModelName, version: ModelVersionPath, dataplane: DataPlaneDep) -> Response:
    return FastJSONResponse(dataplane.statistics(name, version))


@router.get("/models/{name}/config", summary="Model configuration, newest version (model configuration extension)",
            responses=ok(ModelConfig))
async def config(name: ModelName, dataplane: DataPlaneDep) -> Response:
    return FastJSONResponse(dataplane.model_config(name))


@router.get("/models/{name}/versions/{version}/config", summary="Model configuration", responses=ok(ModelConfig))
async def version_config(name: ModelName, version: ModelVersionPath, dataplane: DataPlaneDep) -> Response:
    return FastJSONResponse(dataplane.model_config(name, version))


@router.get("/models/{name}", summary="Model metadata (newest version)", responses=ok(ModelMetadata))
async def model_metadata(name: ModelName, dataplane: DataPlaneDep) -> Response:
    return FastJSONResponse(dataplane.model_metadata(name))


@router.get("/models/{name}/versions/{version}", summary="Model metadata", responses=ok(ModelMetadata))
async def model_version_metadata(name: ModelName, version: ModelVersionPath, dataplane: DataPlaneDep) -> Response:
    return FastJSONResponse(dataplane.model_metadata(name, version))


def _ready(dataplane: DataPlane, name: str, version: str | None) -> Response:
    dataplane.find(name, version)  # 404 when that model or version does not serve: not ready
    return FastJSONResponse({"name": name, "ready": True})


@router.get("/models/{name}/ready", summary="Model readiness", responses=ok(ModelReady))
async def model_ready(name: ModelName, dataplane: DataPlaneDep) -> Response:
    return _ready(dataplane, name, None)


@router.get("/models/{name}/versions/{version}/ready", summary="Model version readiness",
            responses=ok(ModelReady))
async def model_version_ready(name: ModelName, version: ModelVersionPath, dataplane: DataPlaneDep) -> Response:
    return _ready(dataplane, name, version)


async def _infer(request: Request, dataplane: DataPlane, call: Call | None, name: str, version: str | None
                 ) -> Response:
    header = request.headers.get("inference-header-content-length")
    if header is not None and not (header.isascii() and header.isdigit()):
        raise CodecError("Inference-Header-Content-Length must be an integer")
    body = await request.body()
    parsed = None

    def decode() -> Inference:
        nonlocal parsed
        parsed = parse_infer_request(body, int(header) if header is not None else None)
        return Inference(parsed.inputs, parsed.requested, parsed.timeout_s, parsed.sequence)

    entry, outputs = await dataplane.infer(name, version, decode, call)
    assert parsed is not None
    body, headers = encode_infer_response(entry.name, entry.version, parsed, outputs)
    return Response(body, headers=headers)


INFER_DOC = {
    **RUNS_MODEL,
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": INFER_REQUEST_SCHEMA,
                "example": {"inputs": [{"name": "texts", "shape": [2], "datatype": "BYTES",
                                        "data": ["3 March 1998", "1er mai 2001"]}]},
            },
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}

INFER_RESPONSES: dict[int | str, dict[str, Any]] = {200: {"model": InferResponse, "content": {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    "description": "JSON, or with binary outputs the JSON header (its length in Inference-Header-Content-Length) "
                   "followed by the tensors' bytes"}}


@router.post("/models/{name}/infer", dependencies=[Authorized], openapi_extra=INFER_DOC, responses=INFER_RESPONSES,
             summary="Inference (newest version); JSON or binary tensor data")
async def infer(name: ModelName, request: Request, dataplane: DataPlaneDep, call: CallDep) -> Response:
    return await _infer(request, dataplane, call, name, None)


@router.post("/models/{name}/versions/{version}/infer", dependencies=[Authorized], openapi_extra=INFER_DOC,
             responses=INFER_RESPONSES,
             summary="Inference; JSON or binary tensor data")
async def infer_version(name: ModelName, version: ModelVersionPath, request: Request,
                        dataplane: DataPlaneDep, call: CallDep) -> Response:
    return await _infer(request, dataplane, call, name, version)
