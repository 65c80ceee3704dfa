"""Reading a JSON body straight from ASGI `receive`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from starlette.requests import ClientDisconnect

from app.errors import BadRequest, InputError, UnsupportedMediaType
from app.http.body import read_body, read_json_body


def receiver(*messages: dict[str, Any]) -> Callable[[], Awaitable[dict[str, Any]]]:
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    return receive


def test_a_body_in_one_message_is_not_copied() -> None:
    body = b'{"images": []}'
    assert asyncio.run(read_body(receiver({"type": "http.request", "body": body}))) is body


def test_a_body_in_chunks_is_joined() -> None:
    receive = receiver(
        {"type": "http.request", "body": b'{"a"', "more_body": True},
        {"type": "http.request", "body": b"", "more_body": True},
        {"type": "http.request", "body": b": 1}", "more_body": False},
    )
    assert asyncio.run(read_json_body(b"application/json", receive)) == {"a": 1}


def test_a_client_gone_mid_body_is_a_disconnect() -> None:
    receive = receiver({"type": "http.request", "body": b"{", "more_body": True}, {"type": "http.disconnect"})
    with pytest.raises(ClientDisconnect):
        asyncio.run(read_body(receive))


@pytest.mark.parametrize(("content_type", "body", "error", "message"), [
    (None, b"{}", UnsupportedMediaType, "got 'none'"),
    (b"text/plain", b"{}", UnsupportedMediaType, "got 'text/plain'"),
    (b"application/json", b"", BadRequest, "empty body"),
    (b"application/json", b"{not json", BadRequest, "not valid JSON"),
    (b"application/json", b"[1]", InputError, "must be a JSON object, got list"),
])
def test_bad_bodies_say_what_is_wrong(content_type: bytes | None, body: bytes, error: type[Exception],
                                      message: str) -> None:
    with pytest.raises(error, match=message):
        asyncio.run(read_json_body(content_type, receiver({"type": "http.request", "body": body})))


def test_content_type_parameters_and_case_are_accepted() -> None:
    receive = receiver({"type": "http.request", "body": b'{"a": 2}'})
    assert asyncio.run(read_json_body(b"Application/JSON; charset=utf-8", receive)) == {"a": 2}
