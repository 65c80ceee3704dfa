"""Liveness, readiness and the model list. Never behind the API key or the batching queues."""

from __future__ import annotations

from fastapi import APIRouter

from app.rest.deps import RegistryDep
from app.rest.responses import FastJSONResponse
from app.rest.schemas import ModelInfo, ModelsResponse, Readiness

router = APIRouter()


@router.get("/health/live", tags=["health"], summary="The process is up")
async def live() -> dict[str, str]:
    return {"status": "alive"}


@router.get("/health/ready", tags=["health"], response_model=Readiness,
            responses={503: {"model": Readiness, "description": "Not every model is loaded and warmed up"}},
            summary="Every configured model is loaded and warmed up")
async def ready(registry: RegistryDep) -> FastJSONResponse:
    models = {
        entry.key: entry.state if entry.state != "failed" else f"failed: {entry.reason}"
        for entry in registry.versions.values()
    }
    if registry.ready:
        status = "ready"
    elif not registry.loaded:
        status = "loading"
    else:
        status = "unavailable"
    body = {"status": status, "models": models, "problems": registry.problems}
    return FastJSONResponse(body, status_code=200 if registry.ready else 503)


@router.get("/models", tags=["models"], response_model=ModelsResponse,
            summary="Every model version: state, backend, the provider really in use, metrics")
async def models(registry: RegistryDep) -> ModelsResponse:
    infos = []
    for entry in registry.versions.values():
        info = ModelInfo(name=entry.name, version=entry.version, state=entry.state, reason=entry.reason,
                         warnings=entry.warnings)
        if entry.manifest is not None and entry.model is not None:
            manifest = entry.manifest
            info.task, info.description = manifest.task, manifest.description
            info.backend, info.provider = entry.model.backend.name, entry.model.backend.provider
            info.metrics = manifest.metrics
            info.inputs = [spec.model_dump() for spec in manifest.inputs]
            info.outputs = [spec.model_dump() for spec in manifest.outputs]
            info.load_seconds = round(entry.load_s, 3)
        infos.append(info)
    return ModelsResponse(models=infos, problems=registry.problems)
