"""Typed dependencies shared by the routes.

All are `async def`: FastAPI runs a plain `def` dependency in its thread pool, a thread hand-off per
dependency per request, which cost more than the model itself on the hot path."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from starlette.exceptions import HTTPException

from app.repository.registry import Registry
from app.settings import Settings


async def get_registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


RegistryDep = Annotated[Registry, Depends(get_registry)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]


async def require_api_key(request: Request, settings: SettingsDep) -> None:
    """With an API key configured, predict and infer routes need 'Authorization: Bearer <key>'."""
    if settings.api_key is None:
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    expected = settings.api_key.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected):
        raise HTTPException(401, "missing or wrong API key", headers={"WWW-Authenticate": 'Bearer realm="seqserve"'})


Authorized = Depends(require_api_key)
