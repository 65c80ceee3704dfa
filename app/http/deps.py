"""Typed dependencies shared by the documented routes.

All are `async def`: FastAPI runs a plain `def` dependency in its thread pool, a thread hand-off per
dependency per request, which costs more than the model itself on the hot path."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.types import Scope

from app.auth import check_api_key
from app.dataplane import Call, DataPlane
from app.http.edge import call_of
from app.settings import Settings


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_dataplane(request: Request) -> DataPlane:
    dataplane: DataPlane = request.app.state.dataplane
    return dataplane


async def get_call(request: Request) -> Call | None:
    return call_of(request.scope)


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
DataPlaneDep = Annotated[DataPlane, Depends(get_dataplane)]
CallDep = Annotated[Call | None, Depends(get_call)]


def authorize(authorization: str, settings: Settings, scope: Scope) -> None:
    """The API key check for an HTTP request (documented routes and the fast path alike); a named key
    becomes the request's client."""
    client = check_api_key(authorization, settings)
    if client is not None and (call := call_of(scope)) is not None:
        call.client = client


async def require_api_key(request: Request, settings: SettingsDep) -> None:
    authorize(request.headers.get("authorization", ""), settings, request.scope)


Authorized = Depends(require_api_key)
