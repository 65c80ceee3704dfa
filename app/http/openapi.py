"""The OpenAPI document as the server answers, where FastAPI cannot see it from the routes' signatures.

For every operation, from its route: each error status it can give, with the error body of the protocol
mounted at its path (app/http/errors.py) in place of FastAPI's validation error, which the server never
sends; the API-key security scheme on the routes behind the key when a key is set; a version parameter
as the digits the data plane takes. Routes that run a model say so with `RUNS_MODEL` in `openapi_extra`.
"""

from __future__ import annotations

from typing import Any

from fastapi import routing
from fastapi.routing import APIRoute

from app.http.deps import require_api_key
from app.http.errors import Mounts
from app.settings import Settings

RUNS_MODEL = {"x-runs-model": True}  # openapi_extra of a route that submits to a model's queue
VERSION_SCHEMA = {"type": "string", "pattern": "^(0*[1-9][0-9]{0,17})?$"}  # empty: the newest
SECURITY_SCHEME = "apiKey"

STATUSES = {
    400: "Unreadable request: not JSON, a bad version or parameter (V2: any bad input)",
    401: "Missing or wrong API key",
    404: "No such model, or that version does not serve",
    409: "Does not fit the server's state (a stream state of another model version, a sequence step still "
         "running, model control not explicit)",
    413: "Body over the size limit, or a request over its share of the model's queue",
    415: "Content-Type not accepted here",
    422: "The request's contents are unusable; the message says what and where",
    429: "This client is over its share of the model's queue (or of the sequences); retry after Retry-After",
    503: "The model's queue is full, or the version is being unloaded; retry after Retry-After",
    504: "No result within the request's deadline",
}


Route = Any  # a route as FastAPI's OpenAPI sees it: an APIRoute in its router's context (prefix, dependencies)


def runs_model(route: Route) -> bool:
    return bool(route.openapi_extra and route.openapi_extra.get("x-runs-model"))


def secured(route: Route) -> bool:
    """Behind the API key: every route that runs a model (the typed ones check it on their fast path), and
    those that depend on the check."""
    return runs_model(route) or any(dependency.dependency is require_api_key for dependency in route.dependencies)


def statuses_of(route: Route, keyed: bool) -> set[int]:
    """The error statuses an operation can answer, before its protocol maps them (V2 sends 422 as 400);
    `keyed`: an API key is set."""
    statuses: set[int] = set()
    if "{name}" in route.path_format:
        statuses.add(404)
    if "{version}" in route.path_format or runs_model(route):
        statuses |= {400, 404}  # a version (path or query) that is not one; a model that does not serve
    if "POST" in route.methods:
        statuses |= {400, 413}
    if runs_model(route):
        statuses |= {409, 413, 415, 422, 429, 503, 504}
    if route.path_format.startswith("/v2/repository/models/"):
        statuses.add(409)
    if keyed and secured(route):
        statuses.add(401)
    return statuses


def complete(schema: dict[str, Any], routes: list[Any], mounts: Mounts, settings: Settings) -> dict[str, Any]:
    keyed = settings.api_key is not None or bool(settings.api_keys)
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422 body: never sent
        schemas.pop(name, None)
    if keyed:
        components.setdefault("securitySchemes", {})[SECURITY_SCHEME] = {
            "type": "http", "scheme": "bearer",
            "description": "SEQSERVE_API_KEY, or a client's own key of SEQSERVE_API_KEYS."}
    for route in routing.iter_route_contexts(routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        path = route.path_format or ""
        mount = mounts.of(path)
        error_name = f"{mount.protocol.capitalize()}Error"
        schemas[error_name] = mount.error_schema
        for method in route.methods or ():
            operation = schema["paths"].get(path, {}).get(method.lower())
            if operation is None:
                continue
            operation.pop("x-runs-model", None)
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            for status in sorted(statuses_of(route, keyed)):
                sent = mount.render(status, "")[0]
                described = responses.setdefault(str(sent), {"description": STATUSES[sent]})
                described["content"] = {"application/json": {"schema": {"$ref": f"#/components/schemas/{error_name}"}}}
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "version":
                    examples = parameter.get("schema", {}).get("examples")
                    parameter["schema"] = {**VERSION_SCHEMA, **({"examples": examples} if examples else {})}
            if keyed and secured(route):
                operation["security"] = [{SECURITY_SCHEME: []}]
    return schema
