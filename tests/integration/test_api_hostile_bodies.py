"""Hostile request bodies get a problem+json with a catalogue code, never a 500: nesting deeper
than the JSON parser's recursion limit, invalid UTF-8, a batch over its recipient limit, and
(with the connection guard's default 4 MiB) a body over the size limit."""

from __future__ import annotations

import json

import httpx
import pytest

BODY = {"to": "+4915112345678", "from": "Acme", "text": "Hello"}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[" * 200_000 + b"]" * 200_000, id="deep-array"),
        pytest.param(b'{"a":' * 100_000 + b"1" + b"}" * 100_000, id="deep-object"),
        pytest.param(b'{"to": "+4915112345678", "from": "Acme", "text": "\xff\xfe"}', id="utf8"),
    ],
)
async def test_unreadable_json_is_request_malformed(api: httpx.AsyncClient, body: bytes) -> None:
    response = await api.post(
        "/v1/messages", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "request.malformed"


async def test_batch_over_the_recipient_limit_is_a_validation_error(
    api: httpx.AsyncClient,
) -> None:
    recipients = [{"to": "+4915112345678"}] * 10_001
    response = await api.post(
        "/v1/messages/batch", json={"from": "Acme", "text": "hi", "recipients": recipients}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "request.validation_failed"


async def test_body_over_the_default_limit_is_413(api: httpx.AsyncClient) -> None:
    body = json.dumps({**BODY, "text": "x" * (4 * 1024 * 1024)}).encode()
    response = await api.post(
        "/v1/messages", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "request.too_large"
