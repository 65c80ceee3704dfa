"""The typed prediction routes, made from the task table: `POST <task.route>` for every task that has one,
and `POST <task.upload_route>` for every task that takes an uploaded file.

One endpoint function (`predict`) serves every typed JSON route, both as the documented FastAPI route
(OpenAPI, `SEQSERVE_FAST_PATH=false`) and on the fast path (app/rest/fastpath.py), with one query
parser; so the two cannot answer differently.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import FastAPI, File, Request, UploadFile
from starlette.datastructures import QueryParams
from starlette.responses import Response
from starlette.types import Receive, Scope

from app.dataplane import DataPlane, Task
from app.errors import ModelNotFound
from app.http.body import read_json_body
from app.http.deps import Authorized, CallDep, DataPlaneDep, authorize
from app.http.edge import call_of
from app.http.openapi import RUNS_MODEL
from app.http.responses import FastJSONResponse, json_bytes
from app.tasks import TASKS

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


def upload_routes() -> dict[str, Task]:
    """Route path -> task, for every task that takes an uploaded file."""
    return {task.upload_route: task for task in TASKS.values() if task.upload_route}


def parse_query(query_string: bytes) -> tuple[str | None, str | None]:
    """?version= and ?model=, as sent (other parameters are ignored; the data plane reads the version).
    Short ones are cached: clients repeat the same few query strings."""
    if not query_string:
        return None, None
    return _parse_query(query_string) if len(query_string) <= 256 else _parse_query.__wrapped__(query_string)


@functools.lru_cache(maxsize=1024)
def _parse_query(query_string: bytes) -> tuple[str | None, str | None]:
    query = QueryParams(query_string)
    return query.get("version"), query.get("model")


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
    authorize(authorization.decode("latin-1") if authorization else "", state.settings, scope)
    version, model = parse_query(scope["query_string"])
    body = await read_json_body(content_type, receive, task.json_arrays)
    dataplane: DataPlane = state.dataplane
    return json_bytes(await dataplane.predict(task, body, model, version, call_of(scope)))


def request_body(task: Task, dataplane: DataPlane) -> dict[str, Any]:
    """OpenAPI requestBody from the task's typed request, with the limits of its default model if loaded."""
    try:
        model = dataplane.find(task.default_model, task=task).model
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
            response_model=task.response_model, openapi_extra={"parameters": QUERY_PARAMETERS, **RUNS_MODEL},
            response_class=FastJSONResponse,
        )
    for path, task in upload_routes().items():
        app.add_api_route(
            path, upload_endpoint_for(task), methods=["POST"], tags=["predict"], summary=task.upload_summary,
            response_model=task.response_model, openapi_extra={"parameters": QUERY_PARAMETERS, **RUNS_MODEL},
            dependencies=[Authorized],
        )


def endpoint_for(task: Task) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return Response(await predict(request.scope, request.receive, task), media_type=FastJSONResponse.media_type)

    endpoint.__name__ = f"predict_{task.task}"
    return endpoint


def upload_endpoint_for(task: Task) -> Callable[..., Awaitable[Response]]:
    async def endpoint(request: Request, dataplane: DataPlaneDep, call: CallDep,
                       file: Annotated[UploadFile, File(description="The file to read.")]) -> Response:
        version, model = parse_query(request.scope["query_string"])
        return FastJSONResponse(await dataplane.predict_upload(task, await file.read(), model, version, call))

    endpoint.__name__ = f"predict_{task.task}_upload"
    return endpoint
