"""Request validation the schema promises: wrong JSON types are refused, never coerced, and
HTTP-level errors say what is allowed. (Found by the schemathesis run in tests/e2e.)"""

from __future__ import annotations

import httpx
import pytest

BODY = {"to": "+4915112345678", "from": "Acme", "text": "Hello"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("send_at", 0),  # would be read as 1970-01-01 and sent at once
        ("send_at", 1_900_000_000.5),
        ("validity", False),
        ("validity", "3600"),
        ("transliterate", 0),
        ("transliterate", "yes"),
    ],
)
async def test_wrong_json_types_are_refused(
    api: httpx.AsyncClient, field: str, value: object
) -> None:
    for path in ("/v1/messages", "/v1/messages/preview"):
        response = await api.post(path, json={**BODY, field: value})
        assert response.status_code == 422, response.text
        problem = response.json()
        assert problem["code"] == "request.validation_failed"
        assert problem["errors"][0]["field"] == field


async def test_iso_send_at_is_still_accepted(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/v1/messages", json={**BODY, "send_at": "2099-01-01T00:00:00+01:00", "validity": 3600}
    )
    assert response.status_code == 422, response.text
    # 2099 is past the 35-day horizon: refused for its value, not for its type.
    assert response.json()["code"] == "message.invalid_schedule"


async def test_method_not_allowed_lists_the_allowed_methods(api: httpx.AsyncClient) -> None:
    response = await api.request("TRACE", "/healthz")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "http.method_not_allowed"


async def test_allow_names_every_route_of_a_path(api: httpx.AsyncClient) -> None:
    response = await api.request("PATCH", "/v1/messages/01M97FYESSWVHVBYJ34V6089PR")
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET, HEAD"
