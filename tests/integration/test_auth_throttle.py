"""Failed-authentication throttling through the real API and SMPP server: an address that keeps
presenting wrong API keys, admin keys or SMPP passwords is slowed down or paused, and a client
with a good key on the same address is not locked out by it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.app import Gateway
from gateway.smpp.codes import CommandStatus
from tests.conftest import DEMO_KEY, DEMO_SMPP_PASSWORD
from tests.esme_client import TestEsme
from tests.integration.admin_nodes import ADMIN_KEY, client, running

FREE = 5  # FailedAuthThrottle's default: failures allowed before the first pause


@pytest.fixture
async def node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Gateway]:
    async with running(
        monkeypatch, node_id="auth1", database_url=f"sqlite:///{tmp_path}/gw.db"
    ) as gw:
        yield gw


async def test_wrong_api_keys_pause_the_address_and_a_verified_key_still_works(
    node: Gateway,
) -> None:
    async with client(node, DEMO_KEY) as good, client(node, "gw_not-a-key") as wrong:
        assert (await good.get("/v1/messages")).status_code == 200  # verified, cached
        for _ in range(FREE + 1):
            r = await wrong.get("/v1/messages")
            assert r.status_code == 401 and r.json()["code"] == "auth.unauthorized"
        r = await wrong.get("/v1/messages")
        assert r.status_code == 429, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "auth.throttled"
        assert r.headers["retry-after"] == "1"
        # Another wrong key gets the same answer without being looked up; the good key works.
        async with client(node, "gw_another-guess") as other:
            assert (await other.get("/v1/messages")).status_code == 429
        assert (await good.get("/v1/messages")).status_code == 200
        # After the pause one more try is allowed; failing it doubles the pause.
        await _sleep_past(1.0)
        assert (await wrong.get("/v1/messages")).status_code == 401
        r = await wrong.get("/v1/messages")
        assert r.status_code == 429 and r.headers["retry-after"] == "2"
    metrics = (await _metrics(node)).splitlines()
    assert 'gateway_auth_failures_total{surface="rest"} 7.0' in metrics


async def test_wrong_admin_keys_pause_the_address(node: Gateway) -> None:
    async with client(node, "admin-guess") as wrong, client(node, ADMIN_KEY) as admin:
        for _ in range(FREE + 1):
            assert (await wrong.get("/v1/admin/accounts")).status_code == 401
        r = await wrong.get("/v1/admin/accounts")
        assert r.status_code == 429 and r.json()["code"] == "auth.throttled"
        # Even the right admin key waits: it is the one a guesser is after.
        assert (await admin.get("/v1/admin/accounts")).status_code == 429
        await _sleep_past(1.0)
        assert (await admin.get("/v1/admin/accounts")).status_code == 200
        assert (await wrong.get("/v1/admin/accounts")).status_code == 401  # cleared by it


async def test_wrong_smpp_passwords_slow_the_next_binds_from_the_address(node: Gateway) -> None:
    answers: list[float] = []
    for _ in range(4):
        esme = await TestEsme.connect(node.smpp_port)
        started = time.monotonic()
        assert await esme.bind("trx", password="wrong") == CommandStatus.ESME_RINVPASWD
        answers.append(time.monotonic() - started)
        await esme.close()
    # 0, 0.25, 0.5, 1 s of added wait: each failure doubles the next one.
    assert answers[2] >= 0.45 and answers[3] >= 0.95, answers
    esme = await TestEsme.connect(node.smpp_port)
    assert await esme.bind("trx", password=DEMO_SMPP_PASSWORD) == CommandStatus.ESME_ROK
    await esme.close()
    esme = await TestEsme.connect(node.smpp_port)
    started = time.monotonic()
    assert await esme.bind("trx", password="wrong") == CommandStatus.ESME_RINVPASWD
    # The good bind cleared the address: no added wait (it would be 4 s otherwise).
    assert time.monotonic() - started < 2.0
    await esme.close()


async def _sleep_past(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds + 0.1)


async def _metrics(node: Gateway) -> str:
    async with client(node, DEMO_KEY) as c:
        return (await c.get("/metrics")).text
