"""/v2 routes. Errors here are {"error": "..."} as the protocol says: clients parse that, not `detail`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from app import __version__
from app.batching.batcher import DeadlineExceeded, QueueFull
from app.repository.registry import ModelNotFound, ModelVersion, Registry
from app.rest.deps import Authorized, RegistryDep, SettingsDep
from app.rest.predict import infer as infer_batched
from app.rest.responses import FastJSONResponse
from app.tasks.base import InputError
from app.v2.codec import CodecError, encode_infer_response, parse_infer_request
from app.v2.signatures import SIGNATURES, to_outputs, to_payload

router = APIRouter(prefix="/v2", tags=["open inference protocol (v2)"])

ModelName = Annotated[str, Path(description="Model name", examples=["dates"])]
ModelVersionPath = Annotated[str, Path(description="Model version", examples=["1"])]

PLATFORMS = {"onnx": "onnxruntime_onnx", "torchscript": "pytorch_libtorch"}


def v2_error(status: int, message: str, headers: dict[str, str] | None = None) -> FastJSONResponse:
    return FastJSONResponse({"error": message}, status_code=status, headers=headers)


async def guarded(action: Callable[[], Awaitable[Response]]) -> Response:
    try:
        return await action()
    except (CodecError, InputError) as exc:
        return v2_error(400, str(exc))
    except ModelNotFound as exc:
        return v2_error(404, str(exc))
    except QueueFull as exc:
        return v2_error(503, f"overloaded: {exc}", {"Retry-After": "1"})
    except DeadlineExceeded as exc:
        return v2_error(504, str(exc))


def find(registry: Registry, name: str, version: str | None) -> ModelVersion:
    if version is None:
        return registry.get(name)
    if not (version.isascii() and version.isdigit()):
        raise ModelNotFound(f"model {name!r} has no version {version!r}")
    return registry.get(name, int(version))


def metadata(registry: Registry, entry: ModelVersion) -> dict[str, Any]:
    assert entry.manifest is not None and entry.model is not None
    signature = SIGNATURES[entry.manifest.task]
    versions = sorted(v.version for v in registry.versions.values() if v.name == entry.name and v.state == "ready")
    return {
        "name": entry.name,
        "versions": [str(v) for v in versions],
        "platform": PLATFORMS.get(entry.model.backend.name, entry.model.backend.name),
        "inputs": [{k: v for k, v in spec.items() if k != "optional"} for spec in signature["inputs"]],
        "outputs": signature["outputs"],
    }


@router.get("", summary="Server metadata")
async def server_metadata() -> dict[str, Any]:
    return {"name": "seqserve", "version": __version__, "extensions": ["binary_tensor_data"]}


@router.get("/health/live", summary="Server liveness")
async def server_live() -> dict[str, bool]:
    return {"live": True}


@router.get("/health/ready", summary="Server readiness")
async def server_ready(registry: RegistryDep) -> Response:
    return FastJSONResponse({"ready": registry.ready}, status_code=200 if registry.ready else 503)


@router.get("/models/{name}", summary="Model metadata (newest version)")
async def model_metadata(name: ModelName, registry: RegistryDep) -> Response:
    return await guarded(lambda: _json(metadata(registry, find(registry, name, None))))


@router.get("/models/{name}/versions/{version}", summary="Model metadata")
async def model_version_metadata(name: ModelName, version: ModelVersionPath, registry: RegistryDep) -> Response:
    return await guarded(lambda: _json(metadata(registry, find(registry, name, version))))


async def _json(body: dict[str, Any]) -> Response:
    return FastJSONResponse(body)


async def _ready(registry: Registry, name: str, version: str | None) -> Response:
    try:
        find(registry, name, version)
    except ModelNotFound as exc:
        known = any(v.name == name for v in registry.versions.values())
        return v2_error(400 if known else 404, str(exc))
    return FastJSONResponse({"name": name, "ready": True})


@router.get("/models/{name}/ready", summary="Model readiness")
async def model_ready(name: ModelName, registry: RegistryDep) -> Response:
    return await _ready(registry, name, None)


@router.get("/models/{name}/versions/{version}/ready", summary="Model version readiness")
async def model_version_ready(name: ModelName, version: ModelVersionPath, registry: RegistryDep) -> Response:
    return await _ready(registry, name, version)


async def _infer(request: Request, name: str, version: str | None, registry: Registry, settings: Any) -> Response:
    async def run() -> Response:
        entry = find(registry, name, version)
        header = request.headers.get("inference-header-content-length")
        if header is not None and not (header.isascii() and header.isdigit()):
            raise CodecError("Inference-Header-Content-Length must be an integer")
        parsed = parse_infer_request(await request.body(), int(header) if header is not None else None)
        result = await infer_batched(request, entry, to_payload(entry, parsed.inputs, settings), settings)
        body, headers = encode_infer_response(entry.name, entry.version, parsed, to_outputs(entry, result))
        return Response(body, headers=headers)

    return await guarded(run)


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
async def infer(name: ModelName, request: Request, registry: RegistryDep, settings: SettingsDep) -> Response:
    return await _infer(request, name, None, registry, settings)


@router.post("/models/{name}/versions/{version}/infer", dependencies=[Authorized], openapi_extra=INFER_DOC,
             summary="Inference; JSON or binary tensor data")
async def infer_version(
    name: ModelName, version: ModelVersionPath, request: Request, registry: RegistryDep, settings: SettingsDep
) -> Response:
    return await _infer(request, name, version, registry, settings)
