"""Request ids: echoed or made up, and on every log line written while serving the request."""

from __future__ import annotations

import json
import logging

import httpx

from gateway import logs


async def test_a_request_gets_an_id_and_keeps_a_sane_one_it_brought(
    api: httpx.AsyncClient,
) -> None:
    made_up = (await api.get("/healthz")).headers["x-request-id"]
    assert len(made_up) == 16 and made_up != (await api.get("/healthz")).headers["x-request-id"]
    assert (await api.get("/healthz", headers={"X-Request-ID": "lb-4f2a.7"})).headers[
        "x-request-id"
    ] == "lb-4f2a.7"
    # Spaces, quotes or 65 characters could forge or bloat log fields: replaced, not echoed.
    for bad in ('a" b', "x" * 65):
        echoed = (await api.get("/healthz", headers={"X-Request-ID": bad})).headers["x-request-id"]
        assert echoed != bad and len(echoed) == 16


async def test_problem_answers_carry_the_id_too(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/messages/nope", headers={"X-Request-ID": "trace-1"})
    assert response.status_code == 404
    assert response.headers["x-request-id"] == "trace-1"


def test_log_lines_carry_the_request_id_while_it_is_set() -> None:
    formatter = logs.JsonFormatter()
    record = logging.LogRecord("gateway.x", logging.INFO, __file__, 1, "accepted", (), None)
    assert "request_id" not in json.loads(formatter.format(record))
    token = logs.request_id.set("abc123")
    try:
        assert json.loads(formatter.format(record))["request_id"] == "abc123"
    finally:
        logs.request_id.reset(token)
