"""Idempotency-Key on POST /v1/messages and /v1/messages/batch: a retry never sends twice."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import Gateway
from gateway.config import load_settings
from tests.conftest import DEMO_KEY, DEMO_SMPP_PASSWORD
from tests.integration.priced_gateway import (
    client,
    eventually,
    other,
    priced,
    submits,
    wait_for_status,
)

__all__ = ["client", "other", "priced"]

MESSAGE = {"to": "+4915112345678", "from": "Acme", "text": "Your code is 123456"}


def _keyed(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


async def test_a_retried_submit_gets_the_first_response_and_sends_once(
    priced: Gateway, client: httpx.AsyncClient
) -> None:
    first = await client.post("/v1/messages", json=MESSAGE, headers=_keyed("order-17"))
    assert first.status_code == 202 and "idempotent-replayed" not in first.headers
    # The same request again, keys in another order: the same request.
    retry = await client.post(
        "/v1/messages", json=dict(reversed(MESSAGE.items())), headers=_keyed("order-17")
    )
    assert (retry.status_code, retry.content) == (first.status_code, first.content)
    assert retry.headers["idempotent-replayed"] == "true"
    message_id = first.json()["id"]
    await wait_for_status(client, message_id, "delivered")
    await asyncio.sleep(0.2)
    assert submits(priced) == 1


async def test_concurrent_double_submits_send_once(
    priced: Gateway, client: httpx.AsyncClient
) -> None:
    responses = await asyncio.gather(
        *(client.post("/v1/messages", json=MESSAGE, headers=_keyed("twice")) for _ in range(6))
    )
    accepted = [r for r in responses if r.status_code == 202]
    in_progress = [r for r in responses if r.status_code == 409]
    assert accepted and len(accepted) + len(in_progress) == len(responses)
    assert {r.content for r in accepted} == {accepted[0].content}
    assert all(r.json()["code"] == "idempotency.in_progress" for r in in_progress)
    await wait_for_status(client, accepted[0].json()["id"], "delivered")
    await asyncio.sleep(0.2)
    assert submits(priced) == 1


async def test_the_same_key_with_another_body_is_refused(
    priced: Gateway, client: httpx.AsyncClient
) -> None:
    assert (await client.post("/v1/messages", json=MESSAGE, headers=_keyed("k"))).status_code == 202
    changed = await client.post(
        "/v1/messages", json={**MESSAGE, "text": "Your code is 654321"}, headers=_keyed("k")
    )
    assert changed.status_code == 422
    assert changed.json()["code"] == "idempotency.key_mismatch"
    # A batch under a key that a single submit used is another request too.
    batch = await client.post(
        "/v1/messages/batch",
        json={"from": "Acme", "text": "x", "recipients": [{"to": MESSAGE["to"]}]},
        headers=_keyed("k"),
    )
    assert batch.status_code == 422 and batch.json()["code"] == "idempotency.key_mismatch"


async def test_keys_belong_to_one_account(
    priced: Gateway, client: httpx.AsyncClient, other: httpx.AsyncClient
) -> None:
    mine = await client.post("/v1/messages", json=MESSAGE, headers=_keyed("shared"))
    theirs = await other.post("/v1/messages", json=MESSAGE, headers=_keyed("shared"))
    assert mine.status_code == theirs.status_code == 202
    assert mine.json()["id"] != theirs.json()["id"]
    assert "idempotent-replayed" not in theirs.headers


async def test_a_refused_request_stores_nothing_under_its_key(client: httpx.AsyncClient) -> None:
    bad = await client.post(
        "/v1/messages", json={**MESSAGE, "to": "12345"}, headers=_keyed("fix-and-retry")
    )
    assert bad.status_code == 422 and bad.json()["code"] == "message.invalid_number"
    fixed = await client.post("/v1/messages", json=MESSAGE, headers=_keyed("fix-and-retry"))
    assert fixed.status_code == 202


async def test_an_overlong_key_is_a_validation_error(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/messages", json=MESSAGE, headers=_keyed("k" * 256))
    assert response.status_code == 422 and response.json()["code"] == "request.validation_failed"


async def test_a_retried_batch_sends_each_recipient_once(
    priced: Gateway, client: httpx.AsyncClient
) -> None:
    body = {
        "from": "Acme",
        "text": "Hi {{name|there}}",
        "recipients": [{"to": "+4915112345678", "vars": {"name": "Ann"}}, {"to": "+33612345678"}],
    }
    first = await client.post("/v1/messages/batch", json=body, headers=_keyed("campaign-1"))
    retry = await client.post("/v1/messages/batch", json=body, headers=_keyed("campaign-1"))
    assert first.status_code == retry.status_code == 202
    assert retry.content == first.content and retry.headers["idempotent-replayed"] == "true"
    batch_path = f"/v1/batches/{first.json()['batch_id']}"

    async def delivered() -> bool:
        return bool((await client.get(batch_path)).json()["statuses"] == {"delivered": 2})

    await eventually(delivered)
    await asyncio.sleep(0.2)
    assert submits(priced) == 2


# -- two nodes on one PostgreSQL ----------------------------------------------------------------


@pytest.fixture
async def two_nodes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_dsn: str, pg_schema: str
) -> AsyncIterator[list[Gateway]]:
    for name in list(os.environ):
        if name.startswith("GATEWAY_"):
            monkeypatch.delenv(name)
    nodes = []
    try:
        for node in ("node-a", "node-b"):
            settings = load_settings(
                database_url=postgres_dsn,
                database_schema=pg_schema,
                http_port=0,
                simulator_port=0,
                smpp_port=0,
                demo_key=DEMO_KEY,
                demo_smpp_password=DEMO_SMPP_PASSWORD,
                node_id=node,
                simulator_receipt_delay=0.01,
            )
            gateway = Gateway(settings)
            await gateway.start()
            nodes.append(gateway)
        yield nodes
    finally:
        for gateway in nodes:
            await gateway.stop()


async def test_one_key_on_two_nodes_at_once_sends_once(
    two_nodes: list[Gateway], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Hold both commits until both nodes have prepared their message: the key is then decided
    # by the store, where the second transaction waits for the first and finds the key taken.
    arrived = 0
    both = asyncio.Event()
    for gateway in two_nodes:
        assert gateway.store is not None
        original = gateway.store.insert_submissions

        async def held(units: Any, *, owner: str | None, original: Any = original) -> list[bool]:
            nonlocal arrived
            arrived += 1
            if arrived == 2:
                both.set()
            await asyncio.wait_for(both.wait(), 10)
            result: list[bool] = await original(units, owner=owner)
            return result

        monkeypatch.setattr(gateway.store, "insert_submissions", held)
    clients = [
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{g.http_port}",
            headers={"Authorization": f"Bearer {DEMO_KEY}", **_keyed("cross-node")},
            timeout=30,
        )
        for g in two_nodes
    ]
    try:
        responses = await asyncio.gather(*(c.post("/v1/messages", json=MESSAGE) for c in clients))
        assert [r.status_code for r in responses] == [202, 202]
        assert responses[0].content == responses[1].content
        assert sum("idempotent-replayed" in r.headers for r in responses) == 1
        message_id = responses[0].json()["id"]
        await wait_for_status(clients[0], message_id, "delivered")
        await asyncio.sleep(0.2)
        assert sum(submits(g) for g in two_nodes) == 1
    finally:
        for c in clients:
            await c.aclose()
