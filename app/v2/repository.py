"""The Open Inference Protocol's model repository extension: the index, and explicit load and unload
(`SEQSERVE_MODEL_CONTROL=explicit`), behind the API key. Load and unload answer when they are done."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from app.errors import BadRequest
from app.http.body import parse_json_object
from app.http.deps import Authorized, DataPlaneDep
from app.http.responses import FastJSONResponse
from app.v2.schemas import RepositoryModel

router = APIRouter(prefix="/v2/repository", tags=["open inference protocol (v2)"], dependencies=[Authorized])

ModelName = Annotated[str, Path(description="Model name (a folder of the repository)", examples=["dates"])]


async def read_parameters(request: Request) -> dict[str, Any]:
    """The optional JSON body: {"parameters": {...}} for load and unload, {"ready": bool} for the index."""
    raw = await request.body()
    return parse_json_object(raw) if raw.strip() else {}


@router.post("/index", summary="Every model version in the repository, with its state",
             responses={200: {"model": list[RepositoryModel]}})
async def repository_index(request: Request, dataplane: DataPlaneDep) -> Response:
    ready = (await read_parameters(request)).get("ready", False)
    if not isinstance(ready, bool):
        raise BadRequest("'ready' must be true or false")
    return FastJSONResponse(dataplane.repository_index(ready_only=ready))


@router.post("/models/{name}/load", summary="Load a model, or reload what changed of it (explicit mode)")
async def load_model(name: ModelName, request: Request, dataplane: DataPlaneDep) -> Response:
    parameters = (await read_parameters(request)).get("parameters") or {}
    if not isinstance(parameters, dict):
        raise BadRequest("'parameters' must be an object")
    await dataplane.load(name, list(parameters))
    return FastJSONResponse({})


@router.post("/models/{name}/unload", summary="Unload every version of a model (explicit mode)")
async def unload_model(name: ModelName, request: Request, dataplane: DataPlaneDep) -> Response:
    parameters = (await read_parameters(request)).get("parameters") or {}
    if not isinstance(parameters, dict):
        raise BadRequest("'parameters' must be an object")
    await dataplane.unload(name)  # unload_dependents has no meaning here: no model depends on another
    return FastJSONResponse({})
