"""POST /v1/messages/batch and GET /v1/batches/{id} through the real HTTP API and store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from gateway.app import Gateway
from gateway.text import decode_short_message
from tests.integration.priced_gateway import (
    PRICE,
    client,
    other,
    priced,
    submits,
    wait_for_status,
)

__all__ = ["client", "other", "priced"]

DE = "+4915112345678"
FR = "+33612345678"
NL = "+31612345678"


async def test_each_recipient_gets_its_text_and_bad_ones_get_their_own_error(
    priced: Gateway, client: httpx.AsyncClient
) -> None:
    response = await client.post(
        "/v1/messages/batch",
        json={
            "from": "Acme",
            "text": "Hi {{ name | there }}, order {{order}} shipped",
            "type": "promotional",
            "client_ref": "spring",
            "recipients": [
                {"to": DE, "vars": {"name": "Ann", "order": 17}},
                {"to": "+49123", "vars": {"order": "18"}},  # not a valid number
                {"to": FR, "vars": {"order": "19"}},  # no name: the default
                {"to": NL, "vars": {"name": "Bob"}},  # no order and no default
            ],
        },
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["recipients"], body["accepted"], body["rejected"]) == (4, 2, 2)
    ok_de, bad_number, ok_fr, missing = body["results"]
    assert ok_de["to"] == DE and ok_de["segments"] == 1 and ok_de["price"] == PRICE
    assert ok_de["status"] == "accepted" and "error" not in ok_de
    assert bad_number == {
        "to": "+49123",
        "error": {"code": "message.invalid_number", "detail": bad_number["error"]["detail"]},
    }
    assert "+49123" not in bad_number["error"]["detail"]  # masked, as in logs
    assert ok_fr["to"] == FR and ok_fr["id"] != ok_de["id"]
    assert missing["error"]["code"] == "template.missing_variable"
    assert "{{order}}" in missing["error"]["detail"]

    for message_id in (ok_de["id"], ok_fr["id"]):
        await wait_for_status(client, message_id, "delivered")
    assert priced.simulator is not None
    texts = {
        s.destination_addr: decode_short_message(
            s.short_message, data_coding=s.data_coding, udhi=False, packed=False
        ).text()
        for s in priced.simulator.stats.recent_submits
    }
    assert texts[DE.lstrip("+")] == "Hi Ann, order 17 shipped"
    assert texts[FR.lstrip("+")] == "Hi there, order 19 shipped"
    assert submits(priced) == 2

    message = (await client.get(f"/v1/messages/{ok_de['id']}")).json()
    assert message["batch_id"] == body["batch_id"] and message["client_ref"] == "spring"
    batch = (await client.get(f"/v1/batches/{body['batch_id']}")).json()
    assert batch["statuses"] == {"delivered": 2}
    assert (batch["recipients"], batch["accepted"], batch["rejected"]) == (4, 2, 2)
    assert batch["segments"] == 2 and batch["price"] == pytest.approx(2 * PRICE)
    assert batch["from"] == "Acme" and batch["type"] == "promotional"


@pytest.mark.parametrize(
    ("recipient", "field"),
    [
        ("+4915112345678", "recipient"),  # a bare string, not an object
        ({"vars": {"name": "x"}}, "to"),
        ({"to": DE, "vars": {"name": {"first": "x"}}}, "vars.name"),
        ({"to": DE, "colour": "red"}, "colour"),
    ],
)
async def test_a_malformed_recipient_is_that_recipients_error(
    client: httpx.AsyncClient, recipient: Any, field: str
) -> None:
    response = await client.post(
        "/v1/messages/batch",
        json={"from": "Acme", "text": "Hello", "recipients": [recipient, {"to": FR}]},
    )
    assert response.status_code == 202, response.text
    refused, sent = response.json()["results"]
    assert refused["error"]["code"] == "request.validation_failed"
    assert refused["error"]["detail"].startswith(field)
    assert refused["to"] == (recipient.get("to") if isinstance(recipient, dict) else None)
    assert sent["to"] == FR and sent["id"]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"text": "Hi {{name"}, "template.invalid"),
        ({"from": "This sender is far too long"}, "message.invalid_sender"),
        ({"validity": 5}, "message.invalid_schedule"),
        ({"recipients": []}, "request.validation_failed"),
        ({"recipients": [{"to": DE}] * 10_001}, "request.validation_failed"),
    ],
)
async def test_what_no_recipient_could_use_fails_the_whole_request(
    priced: Gateway, client: httpx.AsyncClient, change: dict[str, Any], code: str
) -> None:
    body = {"from": "Acme", "text": "Hi {{name|you}}", "recipients": [{"to": DE}], **change}
    response = await client.post("/v1/messages/batch", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    await asyncio.sleep(0.2)
    assert submits(priced) == 0


async def test_another_accounts_batch_is_not_found(
    client: httpx.AsyncClient, other: httpx.AsyncClient
) -> None:
    response = await client.post(
        "/v1/messages/batch", json={"from": "Acme", "text": "Hi", "recipients": [{"to": DE}]}
    )
    batch_id = response.json()["batch_id"]
    assert (await client.get(f"/v1/batches/{batch_id}")).status_code == 200
    for path in (f"/v1/batches/{batch_id}", "/v1/batches/nonsense"):
        missing = await other.get(path)
        assert missing.status_code == 404 and missing.json()["code"] == "batch.not_found"


async def test_ten_thousand_recipients_commit_in_one_transaction(
    priced: Gateway, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert priced.store is not None
    store = priced.store
    writes: list[int] = []
    original = store.insert_submissions

    async def counting(units: Any, *, owner: str | None) -> list[bool]:
        writes.append(sum(len(u.messages) for u in units))
        return await original(units, owner=owner)

    monkeypatch.setattr(store, "insert_submissions", counting)
    send_at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()  # nothing goes out now
    recipients = [{"to": f"+491511{n:07d}", "vars": {"n": n}} for n in range(10_000)]
    response = await client.post(
        "/v1/messages/batch",
        json={"from": "Acme", "text": "Draw {{n}}", "send_at": send_at, "recipients": recipients},
        timeout=120,
    )
    assert response.status_code == 202, response.text[:500]
    body = response.json()
    assert body["accepted"] == 10_000 and writes == [10_000]
    assert all(r["status"] == "scheduled" for r in body["results"])
    batch = (await client.get(f"/v1/batches/{body['batch_id']}")).json()
    assert batch["statuses"] == {"scheduled": 10_000}
    assert batch["price"] == pytest.approx(10_000 * PRICE)


async def test_a_batch_is_listed_and_counted_on_its_own(
    priced: Gateway, client: httpx.AsyncClient
) -> None:
    single = await client.post("/v1/messages", json={"to": DE, "from": "Acme", "text": "one"})
    assert single.status_code == 202, single.text
    batch = await client.post(
        "/v1/messages/batch",
        json={"from": "Acme", "text": "Hi", "recipients": [{"to": FR}, {"to": NL}]},
    )
    batch_id = batch.json()["batch_id"]
    ids = {r["id"] for r in batch.json()["results"]}

    listed = await client.get("/v1/messages", params={"batch_id": batch_id})
    assert listed.status_code == 200, listed.text
    assert {m["id"] for m in listed.json()["data"]} == ids
    assert {m["batch_id"] for m in listed.json()["data"]} == {batch_id}

    for message_id in ids:
        await wait_for_status(client, message_id, "delivered")
    stats = await client.get("/v1/stats", params={"group_by": "batch"})
    assert stats.status_code == 200, stats.text
    groups = {g["key"]: g for g in stats.json()["groups"]}
    assert groups[batch_id]["messages"] == 2 and groups[batch_id]["delivered"] == 2
    assert groups[""]["messages"] == 1  # sent on its own
