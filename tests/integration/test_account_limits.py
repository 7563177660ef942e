"""Per-account limits at intake, through HTTP and SMPP: rate limit, daily quota, spend cap,
allowed senders and per-country sender rules; usage counted in the store with the messages."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gateway.app import Gateway
from gateway.domain.accounts import usage_day
from gateway.ratelimit.admission import MemoryAdmission, RedisAdmission
from gateway.smpp.codes import CommandStatus
from gateway.smpp.pdu import Unbind, UnbindResp
from tests.esme_client import TestEsme, submit
from tests.integration.admin_nodes import (
    ADMIN_KEY,
    client,
    new_account,
    running,
    sms,
    store_settings,
)


@pytest.fixture(params=["sqlite", "postgres"])
async def node(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Gateway]:
    async with running(monkeypatch, node_id="limits1", **store_settings(request, tmp_path)) as gw:
        yield gw


@pytest.fixture
async def admin(node: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with client(node, ADMIN_KEY) as c:
        yield c


async def test_rate_limit_answers_429_with_retry_after(
    node: Gateway, admin: httpx.AsyncClient
) -> None:
    key = await new_account(admin, "acme", rate_limit=2)
    async with client(node, key) as acme:
        # One second of the rate goes at once; the next segment is refused, not queued.
        statuses = [(await acme.post("/v1/messages", json=sms())).status_code for _ in range(2)]
        assert statuses == [202, 202]
        refused = await acme.post("/v1/messages", json=sms())
        assert refused.status_code == 429
        assert refused.json()["code"] == "account.rate_limited"
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.json()["retry_after"] == int(refused.headers["Retry-After"])
        # Refusals cost nothing: after the announced pause the account sends again.
        await asyncio.sleep(0.6)
        assert (await acme.post("/v1/messages", json=sms())).status_code == 202


async def test_daily_quota_counts_segments_in_the_store(
    node: Gateway, admin: httpx.AsyncClient
) -> None:
    key = await new_account(admin, "acme", daily_quota=4)
    async with client(node, key) as acme:
        long = await acme.post("/v1/messages", json=sms(text="x" * 200))  # 2 segments
        assert long.status_code == 202 and long.json()["segments"] == 2
        assert (await acme.post("/v1/messages", json=sms())).status_code == 202
        # 3 of 4 used: a 2-segment message does not fit, a 1-segment one does.
        over = await acme.post("/v1/messages", json=sms(text="y" * 200))
        assert over.status_code == 429 and over.json()["code"] == "account.quota_exceeded"
        assert "00:00 UTC" in over.json()["detail"]
        assert (await acme.post("/v1/messages", json=sms())).status_code == 202
        full = await acme.post("/v1/messages", json=sms())
        assert full.status_code == 429 and full.json()["code"] == "account.quota_exceeded"

    account = (await admin.get("/v1/admin/accounts/acme")).json()
    assert account["usage"]["segments_today"] == 4  # from the store's counter row
    assert node.store is not None
    usage = await node.store.account_usage(day=usage_day(time.time()))
    assert usage[account["id"]].day_segments == 4
    # Raising the quota lets the account go on at once.
    await admin.patch("/v1/admin/accounts/acme", json={"daily_quota": 5})
    async with client(node, key) as acme:
        assert (await acme.post("/v1/messages", json=sms())).status_code == 202


async def test_spend_cap_answers_402_and_account_price_overrides_route(
    node: Gateway, admin: httpx.AsyncClient
) -> None:
    key = await new_account(admin, "acme", price=0.1, spend_cap=0.25)
    async with client(node, key) as acme:
        preview = await acme.post("/v1/messages/preview", json=sms(text="z" * 200))
        assert preview.json()["segments"] == 2 and preview.json()["price"] == 0.2
        first = (await acme.post("/v1/messages", json=sms())).json()
        assert first["price"] == 0.1  # known at submit
        assert (await acme.get(f"/v1/messages/{first['id']}")).json()["price"] == 0.1
        assert (await acme.post("/v1/messages", json=sms())).status_code == 202
        capped = await acme.post("/v1/messages", json=sms())
        assert capped.status_code == 402
        assert capped.json()["code"] == "account.spend_cap_reached"
    spend = (await admin.get("/v1/admin/accounts/acme")).json()["usage"]["spend_this_month"]
    assert spend == pytest.approx(0.2)


async def test_allowed_senders_and_country_rules(node: Gateway, admin: httpx.AsyncClient) -> None:
    key = await new_account(admin, "acme", allowed_senders=["Acme", "Promo*", "+14155550100"])
    async with client(node, key) as acme:

        async def code(to: str, sender: str) -> str | int:
            r = await acme.post("/v1/messages", json=sms(to=to, sender=sender))
            return r.json()["code"] if r.status_code >= 400 else r.status_code

        assert await code("+4915112345678", "Acme") == 202
        assert await code("+4915112345678", "promo42") == 202  # pattern, case-insensitive
        assert await code("+4915112345678", "Other") == "message.sender_not_allowed"
        # United States: no alphanumeric senders at all, a number is fine.
        assert await code("+12025550123", "Acme") == "message.sender_not_allowed"
        assert await code("+12025550123", "+14155550100") == 202
        # India: alphanumeric senders must be registered, i.e. listed exactly.
        assert await code("+919876543210", "Promo1") == "message.sender_not_allowed"
        assert await code("+919876543210", "Acme") == 202

        refused = await acme.post("/v1/messages", json=sms(to="+12025550123", sender="Acme"))
        assert refused.status_code == 422 and "US" in refused.json()["detail"]
        assert refused.json()["country"] == "US"
        preview = await acme.post(
            "/v1/messages/preview", json=sms(to="+12025550123", sender="Acme")
        )
        assert preview.json()["code"] == "message.sender_not_allowed"


async def test_any_sender_when_the_list_is_empty_but_country_rules_hold(
    node: Gateway, admin: httpx.AsyncClient
) -> None:
    key = await new_account(admin, "acme")
    async with client(node, key) as acme:
        ok = await acme.post("/v1/messages", json=sms(sender="Whatever"))
        assert ok.status_code == 202
        india = await acme.post("/v1/messages", json=sms(to="+919876543210", sender="Whatever"))
        assert india.json()["code"] == "message.sender_not_allowed"


async def test_smpp_submits_meet_the_same_limits(node: Gateway, admin: httpx.AsyncClient) -> None:
    await new_account(admin, "acme", rate_limit=1, allowed_senders=["Acme"])
    put = await admin.put("/v1/admin/accounts/acme/smpp/acme", json={"password": "pw"})
    assert put.status_code == 201
    esme = await TestEsme.connect(node.smpp_port)
    try:
        assert await esme.bind("trx", system_id="acme", password="pw") == 0
        wrong_sender = await esme.request(submit(source_addr="Other"))
        assert wrong_sender.command_status == CommandStatus.ESME_RINVSRCADR
        assert (await esme.request(submit())).command_status == CommandStatus.ESME_ROK
        throttled = await esme.request(submit())
        assert throttled.command_status == CommandStatus.ESME_RTHROTTLED
        # Suspension ends the open bind too (after in-flight answers), not only new ones.
        await admin.patch("/v1/admin/accounts/acme", json={"status": "suspended"})
        unbind = await esme.wait_for(lambda p: isinstance(p, Unbind), timeout=5)
        esme.send(UnbindResp(sequence_number=unbind.sequence_number))
    finally:
        await esme.close()
    # A new bind of a suspended account is refused.
    esme = await TestEsme.connect(node.smpp_port)
    try:
        assert await esme.bind("trx", system_id="acme", password="pw") != 0
    finally:
        await esme.close()


async def test_shared_rate_limit_through_redis(redis_url: str) -> None:
    prefix = f"test:{time.time_ns()}:adm:"
    nodes = [RedisAdmission(redis_url, prefix=prefix) for _ in range(2)]
    try:
        admitted = 0
        for i in range(10):
            wait = await nodes[i % 2].try_take("account:a", rate=3, n=1)
            admitted += wait == 0
        # Two nodes, one limit of 3 segments/s: one second's worth goes at once, not two.
        assert admitted == 3
        wait = await nodes[0].try_take("account:a", rate=3, n=1)
        assert 0 < wait <= 1 / 3 + 0.05
    finally:
        for n in nodes:
            await n.close()


async def test_admission_refuses_without_taking_and_admits_big_messages_when_idle() -> None:
    now = [100.0]
    limit = MemoryAdmission(clock=lambda: now[0])
    assert await limit.try_take("k", rate=2, n=2) == 0
    wait = await limit.try_take("k", rate=2, n=1)
    assert wait == pytest.approx(0.5)
    now[0] += 0.5
    assert await limit.try_take("k", rate=2, n=1) == 0  # the refusal took nothing
    now[0] += 10
    assert await limit.try_take("k", rate=2, n=10) == 0  # more than the burst, limit idle
    assert await limit.try_take("k", rate=2, n=1) > 4


async def test_redis_outage_admits_this_nodes_share_locally() -> None:
    limit = RedisAdmission("redis://127.0.0.1:1/0", expected_nodes=2, timeout=0.2)
    try:
        admitted = [await limit.try_take("account:a", rate=4, n=1) == 0 for _ in range(6)]
        # 4 segments/s shared by 2 nodes: this node admits its 2/s alone, never unlimited.
        assert admitted.count(True) == 2
    finally:
        await limit.close()


async def test_batches_and_idempotent_submits_count_in_the_store_like_single_ones(
    node: Gateway, admin: httpx.AsyncClient
) -> None:
    key = await new_account(admin, "acme", price=0.1, daily_quota=100)
    async with client(node, key) as acme:
        single = await acme.post("/v1/messages", json=sms())
        keyed = await acme.post(
            "/v1/messages", json=sms(text="z" * 200), headers={"Idempotency-Key": "k-1"}
        )
        batch = await acme.post(
            "/v1/messages/batch",
            json={
                "from": "Acme",
                "text": "hello",
                "recipients": [{"to": "+4915112345678"}, {"to": "+4915112345679"}],
            },
        )
        assert (single.status_code, keyed.status_code, batch.status_code) == (202, 202, 202)
        # The replay of a stored answer is not counted again.
        replay = await acme.post(
            "/v1/messages", json=sms(text="z" * 200), headers={"Idempotency-Key": "k-1"}
        )
        assert replay.status_code == 202 and replay.json()["id"] == keyed.json()["id"]
    assert node.store is not None
    account_id = (await admin.get("/v1/admin/accounts/acme")).json()["id"]
    usage = (await node.store.account_usage(day=usage_day(time.time())))[account_id]
    assert usage.day_segments == 1 + 2 + 2  # single, keyed (2 segments), two recipients
    assert usage.month_spend == pytest.approx(0.5)
