"""/v2: the Open Inference Protocol's REST adapter. Model metadata is the task's signature, inference
goes through the data plane, and errors (raised as `ServeError`s anywhere) come back as
{"error": ...}, as the protocol says and clients parse (see app/errors.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from app import __version__
from app.errors import BadRequest, ModelNotFound
from app.repository.registry import ModelVersion, Registry
from app.rest.deps import Authorized, DataPlaneDep, RegistryDep, SettingsDep
from app.rest.responses import FastJSONResponse
from app.v2.codec import CodecError, encode_infer_response, parse_infer_request
from app.v2.extensions import PLATFORMS, model_config, model_statistics

router = APIRouter(prefix="/v2", tags=["open inference protocol (v2)"])

ModelName = Annotated[str, Path(description="Model name", examples=["dates"])]
ModelVersionPath = Annotated[str, Path(description="Model version", examples=["1"])]

EXTENSIONS = ["binary_tensor_data", "model_repository", "model_configuration", "statistics"]


def version_number(name: str, version: str | None) -> int | None:
    if version is None:
        return None
    if not (version.isascii() and version.isdigit()):
        raise ModelNotFound(f"model {name!r} has no version {version!r}")
    return int(version)


def find(registry: Registry, name: str, version: str | None) -> ModelVersion:
    return registry.get(name, version_number(name, version))


def serving(registry: Registry, name: str | None = None) -> list[ModelVersion]:
    """The ready versions (of `name`), in name and version order."""
    return sorted((v for v in registry.versions.values() if v.state == "ready" and name in (None, v.name)),
                  key=lambda v: (v.name, v.version))


def metadata(registry: Registry, entry: ModelVersion) -> dict[str, Any]:
    assert entry.model is not None
    versions = sorted(v.version for v in registry.versions.values() if v.name == entry.name and v.state == "ready")
    return {
        "name": entry.name,
        "versions": [str(v) for v in versions],
        "platform": PLATFORMS.get(entry.model.backend.name, entry.model.backend.name),
        **entry.model.signature().describe(),
    }


@router.get("", summary="Server metadata")
async def server_metadata() -> dict[str, Any]:
    return {"name": "seqserve", "version": __version__, "extensions": EXTENSIONS}


@router.get("/health/live", summary="Server liveness")
async def server_live() -> dict[str, bool]:
    return {"live": True}


@router.get("/health/ready", summary="Server readiness")
async def server_ready(registry: RegistryDep) -> Response:
    return FastJSONResponse({"ready": registry.ready}, status_code=200 if registry.ready else 503)


@router.get("/models/stats", summary="Statistics of every model version (statistics extension)")
async def all_statistics(registry: RegistryDep) -> Response:
    return FastJSONResponse(model_statistics(serving(registry)))


@router.get("/models/{name}/stats", summary="Statistics of every version of a model")
async def statistics(name: ModelName, registry: RegistryDep) -> Response:
    find(registry, name, None)  # 404 for a model that does not serve
    return FastJSONResponse(model_statistics(serving(registry, name)))


@router.get("/models/{name}/versions/{version}/stats", summary="Statistics of a model version")
async def version_statistics(name: ModelName, version: ModelVersionPath, registry: RegistryDep) -> Response:
    return FastJSONResponse(model_statistics([find(registry, name, version)]))


@router.get("/models/{name}/config", summary="Model configuration, newest version (model configuration extension)")
async def config(name: ModelName, registry: RegistryDep, settings: SettingsDep) -> Response:
    return FastJSONResponse(model_config(find(registry, name, None), settings))


@router.get("/models/{name}/versions/{version}/config", summary="Model configuration")
async def version_config(name: ModelName, version: ModelVersionPath, registry: RegistryDep,
                         settings: SettingsDep) -> Response:
    return FastJSONResponse(model_config(find(registry, name, version), settings))


@router.get("/models/{name}", summary="Model metadata (newest version)")
async def model_metadata(name: ModelName, registry: RegistryDep) -> Response:
    return FastJSONResponse(metadata(registry, find(registry, name, None)))


@router.get("/models/{name}/versions/{version}", summary="Model metadata")
async def model_version_metadata(name: ModelName, version: ModelVersionPath, registry: RegistryDep) -> Response:
    return FastJSONResponse(metadata(registry, find(registry, name, version)))


def _ready(registry: Registry, name: str, version: str | None) -> Response:
    try:
        find(registry, name, version)
    except ModelNotFound as exc:
        if any(v.name == name for v in registry.versions.values()):
            raise BadRequest(exc.message) from None  # the model exists, that version does not serve
        raise
    return FastJSONResponse({"name": name, "ready": True})


@router.get("/models/{name}/ready", summary="Model readiness")
async def model_ready(name: ModelName, registry: RegistryDep) -> Response:
    return _ready(registry, name, None)


@router.get("/models/{name}/versions/{version}/ready", summary="Model version readiness")
async def model_version_ready(name: ModelName, version: ModelVersionPath, registry: RegistryDep) -> Response:
    return _ready(registry, name, version)


async def _infer(request: Request, dataplane: DataPlaneDep, name: str, version: str | None) -> Response:
    header = request.headers.get("inference-header-content-length")
    if header is not None and not (header.isascii() and header.isdigit()):
        raise CodecError("Inference-Header-Content-Length must be an integer")
    body = await request.body()
    # No await from finding the version to submitting to its batcher: an unload cannot come between.
    entry = dataplane.find(name, version_number(name, version), context=request.scope.setdefault("state", {}))
    parsed = parse_infer_request(body, int(header) if header is not None else None)
    outputs = await dataplane.infer(entry, parsed.inputs, parsed.timeout_s, parsed.sequence)
    body, headers = encode_infer_response(entry.name, entry.version, parsed, outputs)
    return Response(body, headers=headers)


INFER_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "object", "required": ["inputs"], "properties": {
                    "id": {"type": "string"},
                    "inputs": {"type": "array", "items": {"type": "object", "required": ["name", "shape", "datatype"]}},
                    "outputs": {"type": "array", "items": {"type": "object"}},
                    "parameters": {"type": "object"}}},
                "example": {"inputs": [{"name": "texts", "shape": [2], "datatype": "BYTES",
                                        "data": ["3 March 1998", "1er mai 2001"]}]},
            },
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


@router.post("/models/{name}/infer", dependencies=[Authorized], openapi_extra=INFER_DOC,
             summary="Inference (newest version); JSON or binary tensor data")
async def infer(name: ModelName, request: Request, dataplane: DataPlaneDep) -> Response:
    return await _infer(request, dataplane, name, None)


@router.post("/models/{name}/versions/{version}/infer", dependencies=[Authorized], openapi_extra=INFER_DOC,
             summary="Inference; JSON or binary tensor data")
async def infer_version(name: ModelName, version: ModelVersionPath, request: Request,
                        dataplane: DataPlaneDep) -> Response:
    return await _infer(request, dataplane, name, version)
