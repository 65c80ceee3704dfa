"""The API key check, the same for every protocol: with a key configured, predict and infer need
'Authorization: Bearer <key>'; health, metadata and docs stay open."""

from __future__ import annotations

import hmac

from app.errors import Unauthorized
from app.settings import Settings


def check_api_key(authorization: str, settings: Settings) -> None:
    if settings.api_key is None:
        return
    scheme, _, token = authorization.partition(" ")
    expected = settings.api_key.get_secret_value().encode()
    # Compared in constant time, so the answer's timing says nothing about how much of a guess was right.
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected):
        raise Unauthorized()
