"""The API key check, the same for every protocol: with a key configured, predict and infer need
'Authorization: Bearer <key>'; health, metadata and docs stay open.

With several named keys (SEQSERVE_API_KEYS), each client has its own, and the key's name is the client
that the queue's fairness and the sequence quotas count by; otherwise a client is its address."""

from __future__ import annotations

import hmac

from app.errors import Unauthorized
from app.settings import Settings


def check_api_key(authorization: str, settings: Settings) -> str | None:
    """Unauthorized unless the header carries a configured key; the name of a named key, else None."""
    if settings.api_key is None and not settings.api_keys:
        return None
    scheme, _, token = authorization.partition(" ")
    given = token.strip().encode()
    if scheme.lower() != "bearer" or not given:
        raise Unauthorized()
    # Compared in constant time, and with every key, so the answer's timing says nothing about a guess.
    found: str | None = None
    matched = settings.api_key is not None and hmac.compare_digest(given, settings.api_key.get_secret_value().encode())
    for name, key in settings.api_keys.items():
        if hmac.compare_digest(given, key.get_secret_value().encode()):
            found = name
    if found is None and not matched:
        raise Unauthorized()
    return found


def peer_host(peer: str) -> str:
    """The address of a gRPC peer ('ipv4:127.0.0.1:5000', 'ipv6:[::1]:5000') without its port."""
    address = peer.partition(":")[2] or peer
    return address.rsplit(":", 1)[0].strip("[]") if address.count(":") >= 1 else address
