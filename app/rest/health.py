"""Liveness, readiness and the model list. Never behind the API key or the batching queues."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.http.deps import DataPlaneDep
from app.http.responses import FastJSONResponse
from app.repository.version import ModelVersion

router = APIRouter()


class ModelInfo(BaseModel):
    name: str
    version: int
    state: str
    reason: str = ""
    task: str | None = None
    description: str | None = None
    backend: str | None = None
    provider: str | None = Field(None, description="The execution provider really running the graphs.")
    warnings: list[str] = []
    metrics: dict[str, Any] = {}
    inputs: list[dict[str, Any]] = Field([], description="Input tensors, as V2 metadata shows them.")
    outputs: list[dict[str, Any]] = Field([], description="Output tensors, as V2 metadata shows them.")
    load_seconds: float | None = None
    loaded_at: float | None = Field(None, description="Unix time this version's files were loaded (a reload "
                                    "of changed files moves it).")


class ModelsResponse(BaseModel):
    models: list[ModelInfo]
    problems: list[str] = Field(description="Repository-level problems (missing directory, absent "
                                "model) and task plugins that failed to load.")


class Readiness(BaseModel):
    status: str
    models: dict[str, str]
    problems: list[str]


@router.get("/health/live", tags=["health"], summary="The process is up (HEAD too)")
async def live() -> dict[str, str]:
    return {"status": "alive"}


@router.get("/health/ready", tags=["health"], response_model=Readiness,
            responses={503: {"model": Readiness, "description": "Not every model is loaded and warmed up"}},
            summary="Every configured model is loaded and warmed up (HEAD too)")
async def ready(dataplane: DataPlaneDep) -> FastJSONResponse:
    readiness = dataplane.readiness()
    body = {"status": readiness.status, "models": readiness.models, "problems": readiness.problems}
    return FastJSONResponse(body, status_code=200 if readiness.ready else 503)


# HEAD answers as GET without the body (load balancers probe with it); one operation per path in OpenAPI.
router.add_api_route("/health/live", live, methods=["HEAD"], include_in_schema=False)
router.add_api_route("/health/ready", ready, methods=["HEAD"], include_in_schema=False)


def model_info(entry: ModelVersion) -> ModelInfo:
    info = ModelInfo(name=entry.name, version=entry.version, state=entry.state, reason=entry.reason,
                     warnings=entry.warnings)
    if entry.model is not None:
        model, manifest = entry.model, entry.model.manifest
        info.task, info.description = manifest.task, manifest.description
        info.backend, info.provider = model.backend.name, model.backend.provider
        info.metrics = manifest.metrics
        signature = model.signature().describe()
        info.inputs, info.outputs = signature["inputs"], signature["outputs"]
        info.load_seconds = round(entry.load_s, 3)
        info.loaded_at = round(entry.loaded_at, 3)
    return info


@router.get("/models", tags=["models"], response_model=ModelsResponse,
            summary="Every model version: state, backend, the provider really in use, tensors, metrics")
async def models(dataplane: DataPlaneDep) -> ModelsResponse:
    return ModelsResponse(models=[model_info(e) for e in dataplane.versions()], problems=dataplane.readiness().problems)
