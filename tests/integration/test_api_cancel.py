"""DELETE /v1/messages/{id}, scheduled sends, and the price in submit and preview responses."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from gateway.app import Gateway
from tests.integration.priced_gateway import (
    PRICE,
    client,
    other,
    priced,
    submits,
    wait_for_status,
)

__all__ = ["client", "other", "priced"]

MESSAGE = {"to": "+4915112345678", "from": "Acme", "text": "See you at 10"}


def _in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def test_a_scheduled_message_cancelled_before_its_time_is_never_sent(
    priced: Gateway, client: httpx.AsyncClient
) -> None:
    kept = await client.post("/v1/messages", json={**MESSAGE, "send_at": _in(1.0)})
    dropped = await client.post("/v1/messages", json={**MESSAGE, "send_at": _in(1.0)})
    assert kept.json()["status"] == dropped.json()["status"] == "scheduled"
    cancelled = await client.delete(f"/v1/messages/{dropped.json()['id']}")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert all(p["status"] == "cancelled" for p in cancelled.json()["parts"])

    await wait_for_status(client, kept.json()["id"], "delivered")
    await asyncio.sleep(0.3)
    assert submits(priced) == 1  # only the one not cancelled
    view = (await client.get(f"/v1/messages/{dropped.json()['id']}")).json()
    assert view["status"] == "cancelled" and view["upstream_ids"] == []


async def test_a_sent_message_is_not_cancellable_and_says_its_status(
    client: httpx.AsyncClient,
) -> None:
    message_id = (await client.post("/v1/messages", json=MESSAGE)).json()["id"]

    await wait_for_status(client, message_id, "delivered")
    refused = await client.delete(f"/v1/messages/{message_id}")
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "message.not_cancellable"
    assert refused.json()["message_status"] == "delivered"


async def test_cancelling_twice_says_it_is_cancelled(client: httpx.AsyncClient) -> None:
    message_id = (await client.post("/v1/messages", json={**MESSAGE, "send_at": _in(3600)})).json()[
        "id"
    ]
    assert (await client.delete(f"/v1/messages/{message_id}")).status_code == 200
    again = await client.delete(f"/v1/messages/{message_id}")
    assert again.status_code == 409 and again.json()["message_status"] == "cancelled"


async def test_only_the_owner_can_cancel(
    client: httpx.AsyncClient, other: httpx.AsyncClient
) -> None:
    message_id = (await client.post("/v1/messages", json={**MESSAGE, "send_at": _in(3600)})).json()[
        "id"
    ]
    for path in (f"/v1/messages/{message_id}", "/v1/messages/not-an-id"):
        response = await other.delete(path)
        assert response.status_code == 404 and response.json()["code"] == "message.not_found"
    view = (await client.get(f"/v1/messages/{message_id}")).json()
    assert view["status"] == "scheduled"


async def test_a_message_of_a_batch_can_be_cancelled_and_the_batch_counts_it(
    client: httpx.AsyncClient,
) -> None:
    batch = await client.post(
        "/v1/messages/batch",
        json={
            "from": "Acme",
            "text": "Sale starts at {{time}}",
            "send_at": _in(3600),
            "recipients": [
                {"to": "+4915112345678", "vars": {"time": "9"}},
                {"to": "+33612345678", "vars": {"time": "10"}},
            ],
        },
    )
    first = batch.json()["results"][0]["id"]
    assert (await client.delete(f"/v1/messages/{first}")).status_code == 200
    summary = (await client.get(f"/v1/batches/{batch.json()['batch_id']}")).json()
    assert summary["statuses"] == {"cancelled": 1, "scheduled": 1}


@pytest.mark.parametrize(
    ("text", "segments"), [("short", 1), ("x" * 161, 2), ("👋" * 36, 2)], ids=["1", "2", "ucs2"]
)
async def test_submit_and_preview_quote_route_price_times_segments(
    client: httpx.AsyncClient, text: str, segments: int
) -> None:
    body = {**MESSAGE, "text": text}
    preview = (await client.post("/v1/messages/preview", json=body)).json()
    submitted = (await client.post("/v1/messages", json=body)).json()
    expected = pytest.approx(PRICE * segments)
    assert preview["segments"] == submitted["segments"] == segments
    assert preview["price"] == submitted["price"] == expected
    view = (await client.get(f"/v1/messages/{submitted['id']}")).json()
    assert view["price"] == expected and view["batch_id"] is None


async def test_send_at_is_honoured_through_the_api(
    priced: Gateway, client: httpx.AsyncClient
) -> None:
    started = time.time()
    message_id = (await client.post("/v1/messages", json={**MESSAGE, "send_at": _in(1.0)})).json()[
        "id"
    ]
    await asyncio.sleep(0.3)
    assert submits(priced) == 0

    await wait_for_status(client, message_id, "delivered")
    view = (await client.get(f"/v1/messages/{message_id}")).json()
    assert view["submitted_at"] >= started + 0.9
