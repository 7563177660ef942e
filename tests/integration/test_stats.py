"""Delivery statistics: the store's SQL on both stores with known latencies, and GET /v1/stats
through the API."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from gateway.domain import MessageType, NewMessage, NewPart, PartUpdate, Status, new_id
from gateway.domain.errors import StatsTimeout
from gateway.store import Store
from tests.integration.stores_gateway import any_api, any_gateway

__all__ = ["any_api", "any_gateway"]

DAY = 86400.0
T0 = 1_780_000_000.0 - 1_780_000_000.0 % DAY  # a midnight UTC (2026-05-28)


async def _account(store: Store, name: str = "acme") -> str:
    account_id = new_id()
    await store.create_account(account_id=account_id, name=name, now=T0)
    return account_id


def _message(account_id: str, created_at: float, to: str, connector: str) -> NewMessage:
    return NewMessage(
        id=new_id(created_at),
        account_id=account_id,
        source="Acme",
        destination=to,
        body="hello",
        encoding="gsm7",
        message_type=MessageType.TRANSACTIONAL,
        connector=connector,
        parts=(NewPart(seq=0, encoding="gsm7", data_coding=0, udh=b"", payload=b"hello"),),
        created_at=created_at,
    )


async def _send(store: Store, m: NewMessage, outcome: Status | None, latency: float) -> None:
    await store.insert_messages([m], owner=None)
    submitted = m.created_at + 1
    await store.apply_updates([PartUpdate(m.id, 0, Status.SUBMITTED, submitted, upstream_id="u")])
    if outcome is not None:
        await store.apply_updates([PartUpdate(m.id, 0, outcome, submitted + latency)])


async def test_counts_rates_and_latency_percentiles_per_group(store: Store) -> None:
    account_id = await _account(store)
    other = await _account(store, "other")
    # Day 1, Germany via carrier-a: ten delivered with latencies 1..10 s, one failed.
    for i in range(10):
        m = _message(account_id, T0 + 60 + i, "+4915112345678", "carrier-a")
        await _send(store, m, Status.DELIVERED, float(i + 1))
    await _send(
        store, _message(account_id, T0 + 100, "+4915112345678", "carrier-a"), Status.UNDELIVERED, 2
    )
    # Day 2, the US (+1) and the UK (+44) via carrier-b: one delivered (30 s), one never sent.
    await _send(
        store, _message(account_id, T0 + DAY + 5, "+12025550123", "carrier-b"), Status.DELIVERED, 30
    )
    await store.insert_messages(
        [_message(account_id, T0 + DAY + 6, "+447911123456", "carrier-b")], owner=None
    )
    # Another account's traffic and traffic outside the range never count.
    await _send(store, _message(other, T0 + 10, "+4915112345678", "carrier-a"), Status.DELIVERED, 1)
    await _send(
        store,
        _message(account_id, T0 + 3 * DAY, "+4915112345678", "carrier-a"),
        Status.DELIVERED,
        1,
    )

    async def stats(grouping: str | None) -> dict[str, tuple[object, ...]]:
        rows = await store.message_stats(
            account_id=account_id,
            start=T0,
            end=T0 + 2 * DAY,
            grouping=grouping,
            timeout=10,  # type: ignore[arg-type]
        )
        return {r.key: (r.total, r.sent, r.delivered, r.failed, r.p50, r.p90, r.p99) for r in rows}

    assert await stats(None) == {"all": (13, 12, 11, 1, 6.0, 10.0, 30.0)}
    day0 = int(T0 // DAY)
    assert await stats("day") == {
        str(day0): (11, 11, 10, 1, 5.0, 9.0, 10.0),
        str(day0 + 1): (2, 1, 1, 0, 30.0, 30.0, 30.0),
    }
    assert await stats("country") == {
        "49": (11, 11, 10, 1, 5.0, 9.0, 10.0),
        "1": (1, 1, 1, 0, 30.0, 30.0, 30.0),
        "44": (1, 0, 0, 0, None, None, None),
    }
    assert await stats("connector") == {
        "carrier-a": (11, 11, 10, 1, 5.0, 9.0, 10.0),
        "carrier-b": (2, 1, 1, 0, 30.0, 30.0, 30.0),
    }


async def test_an_empty_range_has_no_groups(store: Store) -> None:
    account_id = await _account(store)
    assert (
        await store.message_stats(
            account_id=account_id, start=T0, end=T0 + DAY, grouping="day", timeout=10
        )
        == []
    )


async def test_a_query_past_its_time_budget_is_stopped(store: Store) -> None:
    account_id = await _account(store)
    await store.insert_messages(
        [_message(account_id, T0 + i, f"+491511234{i:04d}", "carrier-a") for i in range(5000)],
        owner=None,
    )
    with pytest.raises(StatsTimeout):
        await store.message_stats(
            account_id=account_id, start=T0, end=T0 + DAY, grouping="country", timeout=0.000_001
        )
    # The connection is usable afterwards.
    rows = await store.message_stats(
        account_id=account_id, start=T0, end=T0 + DAY, grouping=None, timeout=10
    )
    assert rows[0].total == 5000


async def test_stats_through_the_api(any_api: httpx.AsyncClient) -> None:
    ids = []
    for to in ("+4915112345678", "+4915112345679", "+447911123456"):
        r = await any_api.post("/v1/messages", json={"to": to, "from": "Acme", "text": "hi"})
        ids.append(r.json()["id"])
    deadline = time.monotonic() + 10
    for message_id in ids:
        while (await any_api.get(f"/v1/messages/{message_id}")).json()["status"] != "delivered":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
    r = await any_api.get("/v1/stats", params={"group_by": "country"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"]["messages"] == 3
    assert body["total"]["delivered"] == 3
    assert body["total"]["delivery_rate"] == 1.0
    assert body["total"]["latency"]["p50"] >= 0
    groups = {g["key"]: g for g in body["groups"]}
    assert groups["+49"]["country"] == "DE"
    assert groups["+49"]["sent"] == 2
    assert groups["+44"]["country"] == "GB"
    r = await any_api.get("/v1/stats")
    (today,) = r.json()["groups"]
    assert today["key"] == time.strftime("%Y-%m-%d", time.gmtime())
    r = await any_api.get("/v1/stats", params={"group_by": "connector"})
    assert [g["messages"] for g in r.json()["groups"]] == [3]


async def test_a_range_too_long_or_backwards_is_a_problem(any_api: httpx.AsyncClient) -> None:
    for params in (
        {"start": "2026-01-01T00:00:00Z", "end": "2026-03-01T00:00:00Z"},
        {"start": "2026-03-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
    ):
        r = await any_api.get("/v1/stats", params=params)
        assert r.status_code == 422
        assert r.json()["code"] == "stats.range_too_large"
    r = await any_api.get("/v1/stats", params={"group_by": "planet"})
    assert r.status_code == 422
