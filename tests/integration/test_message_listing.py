"""GET /v1/messages (filters, keyset cursor), per-stage timestamps and raw states in
GET /v1/messages/{id}, and GET /v1/inbound, on both stores through the real API."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from gateway.app import Gateway
from gateway.keys import KeyAuthenticator
from tests.integration.stores_gateway import any_api, any_gateway

__all__ = ["any_api", "any_gateway"]

OUR_NUMBER = "+4930123456789"
HANDSET = "+4915112345678"
OTHER = "+4915112345679"


async def _submit(api: httpx.AsyncClient, to: str, text: str = "hi") -> str:
    r = await api.post("/v1/messages", json={"to": to, "from": "Acme", "text": text})
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


async def _wait_status(api: httpx.AsyncClient, message_id: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        body: dict[str, Any] = (await api.get(f"/v1/messages/{message_id}")).json()
        if body["status"] == status:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"{message_id} never became {status}: {body}")


async def _all_pages(api: httpx.AsyncClient, path: str, **params: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        r = await api.get(path, params=query)
        assert r.status_code == 200, r.text
        body = r.json()
        pages.append([row["id"] for row in body["data"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


async def test_pages_walk_every_message_once_newest_first(any_api: httpx.AsyncClient) -> None:
    sent = [await _submit(any_api, HANDSET if i % 2 else OTHER) for i in range(7)]
    pages = await _all_pages(any_api, "/v1/messages", limit=3)
    assert [len(p) for p in pages] == [3, 3, 1]
    listed = [i for page in pages for i in page]
    assert listed == list(reversed(sent))  # ids are time-ordered; newest first


async def test_a_message_submitted_between_pages_does_not_shift_them(
    any_api: httpx.AsyncClient,
) -> None:
    sent = [await _submit(any_api, HANDSET) for _ in range(4)]
    first = (await any_api.get("/v1/messages", params={"limit": 2})).json()
    await _submit(any_api, HANDSET)
    second = (
        await any_api.get("/v1/messages", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    assert [r["id"] for r in second["data"]] == [sent[1], sent[0]]
    assert second["next_cursor"] is None


async def test_filters_by_destination_status_and_time(any_api: httpx.AsyncClient) -> None:
    to_handset = [await _submit(any_api, HANDSET) for _ in range(2)]
    await _submit(any_api, OTHER)
    for message_id in to_handset:
        await _wait_status(any_api, message_id, "delivered")
    r = await any_api.get("/v1/messages", params={"to": HANDSET})
    assert {m["id"] for m in r.json()["data"]} == set(to_handset)
    assert all(m["to"] == HANDSET for m in r.json()["data"])
    # The number in another format is the same number.
    r = await any_api.get("/v1/messages", params={"to": "0049 151 12345678"})
    assert {m["id"] for m in r.json()["data"]} == set(to_handset)

    r = await any_api.get(
        "/v1/messages", params=[("status", "delivered"), ("status", "failed"), ("to", HANDSET)]
    )
    assert {m["id"] for m in r.json()["data"]} == set(to_handset)
    r = await any_api.get("/v1/messages", params={"status": "rejected"})
    assert r.json() == {"data": [], "next_cursor": None}

    first, second = [
        (await any_api.get(f"/v1/messages/{i}")).json()["created_at"] for i in to_handset
    ]
    middle = (first + second) / 2  # a time parameter is read to the microsecond
    r = await any_api.get("/v1/messages", params={"created_before": middle, "to": HANDSET})
    assert [m["id"] for m in r.json()["data"]] == [to_handset[0]]
    r = await any_api.get("/v1/messages", params={"created_after": middle, "to": HANDSET})
    assert [m["id"] for m in r.json()["data"]] == [to_handset[1]]


async def test_another_accounts_messages_are_not_listed(
    any_gateway: Gateway, any_api: httpx.AsyncClient
) -> None:
    await _submit(any_api, HANDSET)
    store = any_gateway.store
    assert store is not None
    other = await store.create_account(
        account_id="01OTHERACCOUNT0000000000000", name="other", now=1
    )
    key = await KeyAuthenticator(store=store).create_key(account_id=other.id)
    r = await any_api.get("/v1/messages", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200
    assert r.json()["data"] == []


async def test_bad_cursor_and_limit_are_problems(any_api: httpx.AsyncClient) -> None:
    for cursor in ("garbage", "WzEuMCwibm90LWFuLWlkIl0", "bnVsbA"):
        r = await any_api.get("/v1/messages", params={"cursor": cursor})
        assert r.status_code == 400
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "request.invalid_cursor"
    r = await any_api.get("/v1/inbound", params={"cursor": "%%%"})
    assert r.json()["code"] == "request.invalid_cursor"
    r = await any_api.get("/v1/messages", params={"limit": 1001})
    assert r.status_code == 422
    assert r.json()["code"] == "request.validation_failed"
    r = await any_api.get("/v1/messages", params={"status": "bogus"})
    assert r.status_code == 422


async def test_message_shows_when_it_reached_each_stage_and_the_carriers_state(
    any_api: httpx.AsyncClient,
) -> None:
    message_id = await _submit(any_api, HANDSET)
    body = await _wait_status(any_api, message_id, "delivered")
    stamps = body["timestamps"]
    assert stamps["accepted"] == body["created_at"]
    assert stamps["queued"] == body["created_at"]  # no send_at: due at once
    assert stamps["accepted"] <= stamps["submitted"] <= stamps["done"]
    (part,) = body["parts"]
    assert part["raw_state"] == "DELIVERED"  # the SMPP message_state the carrier reported
    assert part["error_code"] is None


async def test_a_scheduled_message_is_queued_at_its_send_time(any_api: httpx.AsyncClient) -> None:
    r = await any_api.post(
        "/v1/messages",
        json={"to": HANDSET, "from": "Acme", "text": "later", "send_at": "2100-01-01T00:00:00Z"},
    )
    if r.status_code != 202:  # send_at is limited to 35 days ahead
        soon = time.time() + 3600
        r = await any_api.post(
            "/v1/messages",
            json={"to": HANDSET, "from": "Acme", "text": "later", "send_at": _iso(soon)},
        )
    assert r.status_code == 202, r.text
    body = (await any_api.get(f"/v1/messages/{r.json()['id']}")).json()
    assert body["status"] == "scheduled"
    assert body["timestamps"]["queued"] == body["send_at"]
    assert body["timestamps"]["submitted"] is None
    assert body["timestamps"]["done"] is None


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


async def test_inbound_pages_newest_first(any_gateway: Gateway, any_api: httpx.AsyncClient) -> None:
    store, simulator = any_gateway.store, any_gateway.simulator
    assert store is not None and simulator is not None
    account = await store.get_account_by_name("demo")
    assert account is not None
    await store.add_number(number=OUR_NUMBER, account_id=account.id, now=time.time())
    texts = [f"mo {i}" for i in range(5)]
    for text in texts:
        simulator.send_mo(source=HANDSET, destination=OUR_NUMBER, text=text)
        await asyncio.sleep(0.02)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if len((await any_api.get("/v1/inbound")).json()["data"]) == 5:
            break
        await asyncio.sleep(0.05)
    pages = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = (await any_api.get("/v1/inbound", params=params)).json()
        pages.append(body["data"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [2, 2, 1]
    rows = [row for page in pages for row in page]
    assert [row["text"] for row in rows] == list(reversed(texts))
    assert rows[0]["from"] == HANDSET
    assert rows[0]["to"] == OUR_NUMBER
    assert rows[0]["incomplete"] is False
