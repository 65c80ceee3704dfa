"""The typed prediction routes, made from the task table: `POST <task.route>` for every task that has one,
plus the digit upload route.

One endpoint function (`predict`) serves every typed JSON route, both as the documented FastAPI route
(OpenAPI, `SEQSERVE_FAST_PATH=false`) and on the fast path (app/rest/fastpath.py), with one query
parser; so the two cannot answer differently.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, File, Request, UploadFile
from starlette.datastructures import QueryParams
from starlette.responses import Response
from starlette.types import Receive, Scope

from app.auth import check_api_key
from app.dataplane import DataPlane, model_name
from app.errors import InputError, ModelNotFound
from app.repository.registry import Registry
from app.rest.body import read_json_body
from app.rest.deps import Authorized, DataPlaneDep, SettingsDep
from app.rest.responses import FastJSONResponse, json_bytes
from app.tasks import TASKS, TaskModel
from app.tasks.digit import DigitModel, DigitResponse

Task = type[TaskModel[Any, Any]]

QUERY_PARAMETERS = [
    {"name": "version", "in": "query", "required": False, "description": "Model version; default the newest loaded.",
     "schema": {"type": "integer", "minimum": 1}},
    {"name": "model", "in": "query", "required": False,
     "description": "Name of a model of this task in the repository; default the task's own.",
     "schema": {"type": "string"}},
]


def typed_routes() -> dict[str, Task]:
    """Route path -> task, for every task with a typed route."""
    return {task.route: task for task in TASKS.values() if task.route}


def parse_query(query_string: bytes) -> tuple[int | None, str | None]:
    """?version= and ?model= (other parameters are ignored). Short ones are cached: clients repeat the
    same few query strings, and parsing one costs several times more than looking it up."""
    if not query_string:
        return None, None
    return _parse_query(query_string) if len(query_string) <= 256 else _parse_query.__wrapped__(query_string)


@functools.lru_cache(maxsize=1024)
def _parse_query(query_string: bytes) -> tuple[int | None, str | None]:
    query = QueryParams(query_string)
    raw_version = query.get("version")
    version = None
    if raw_version is not None:
        if not (raw_version.isascii() and raw_version.isdigit()) or int(raw_version) < 1:
            raise InputError(f"query.version: must be an integer >= 1, got {raw_version!r}")
        version = int(raw_version)
    return version, query.get("model")


async def predict(scope: Scope, receive: Receive, task: Task) -> bytes:
    """Every typed JSON route: auth, query, body -> the data plane -> the JSON answer's bytes. Plain ASGI
    in and bytes out, so the fast path pays for no request or response objects."""
    state = scope["app"].state
    authorization = content_type = None
    for key, value in scope["headers"]:  # one pass; the first of repeated headers counts, as in Starlette
        if key == b"authorization":
            authorization = authorization or value
        elif key == b"content-type":
            content_type = content_type or value
    check_api_key(authorization.decode("latin-1") if authorization else "", state.settings)
    version, model = parse_query(scope["query_string"])
    body = await read_json_body(content_type, receive, task.json_arrays)
    dataplane: DataPlane = state.dataplane
    answer = await dataplane.predict(task, body, model, version, scope.setdefault("state", {}))
    return json_bytes(answer)


def request_body(task: Task, registry: Registry) -> dict[str, Any]:
    """OpenAPI requestBody from the task's typed request, with the limits of its default model if loaded."""
    try:
        model = registry.get(task.default_model, task=task.task).model
    except ModelNotFound:
        model = None
    request = task.request_model(model)
    assert request is not None  # a task with a route has a typed request
    schema = request.model_json_schema()
    content: dict[str, Any] = {"schema": schema}
    if schema.get("examples"):
        content["example"] = schema["examples"][0]
    return {"required": True, "content": {"application/json": content}}


def add_typed_routes(app: FastAPI) -> None:
    for path, task in typed_routes().items():
        app.add_api_route(
            path, endpoint_for(task), methods=["POST"], tags=["predict"], summary=task.summary,
            response_model=task.response_model, openapi_extra={"parameters": QUERY_PARAMETERS},
            response_class=FastJSONResponse,
        )


def endpoint_for(task: Task) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return Response(await predict(request.scope, request.receive, task), media_type=FastJSONResponse.media_type)

    endpoint.__name__ = f"predict_{task.task}"
    return endpoint


router = APIRouter(prefix="/predict", tags=["predict"], dependencies=[Authorized])


@router.post("/digit/image", response_model=DigitResponse, summary="Classify an uploaded picture of a digit",
             openapi_extra={"parameters": QUERY_PARAMETERS})
async def predict_digit_image(
    request: Request, dataplane: DataPlaneDep, settings: SettingsDep,
    file: Annotated[UploadFile, File(description="PNG, JPEG, ... of any size; dark ink on light paper works.")],
) -> Response:
    version, model = parse_query(request.scope["query_string"])
    context = request.scope.setdefault("state", {})
    dataplane.find(model_name(DigitModel, {}, model), version, DigitModel, context)  # 404 before decoding
    image = await asyncio.to_thread(DigitModel.parse_image, await file.read(), settings.max_image_pixels)
    # Found again after the awaits, so a version unloaded meanwhile is not the one asked to run.
    entry = dataplane.find(model_name(DigitModel, {}, model), version, DigitModel, context)
    return FastJSONResponse(await dataplane.answer(entry, image))
