"""Tenant isolation through the real API and SMPP server, on both stores: account `other` never
reads, cancels or hears of account `acme`'s messages, suppressions, webhook events, SMPP
delivery receipts or inbound messages, even knowing their ids and numbers. (Listing, batches and templates have
their own cross-account tests next to their features.)"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gateway.app import Gateway
from gateway.smpp.pdu import DeliverSm, Pdu
from tests.esme_client import TestEsme, submit
from tests.integration.admin_nodes import (
    ADMIN_KEY,
    client,
    new_account,
    running,
    sms,
    store_settings,
)
from tests.integration.webhook_receiver import WebhookReceiver

HANDSET = "+4915112345678"
OUR_NUMBER = "+4930123456789"


@pytest.fixture(params=["sqlite", "postgres"])
async def node(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Gateway]:
    async with running(
        monkeypatch,
        node_id="tenants",
        webhook_allow_private=True,
        **store_settings(request, tmp_path),
    ) as gw:
        yield gw


@pytest.fixture
async def tenants(node: Gateway) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    async with client(node, ADMIN_KEY) as admin:
        keys = [await new_account(admin, name) for name in ("acme", "other")]
        for name in ("acme", "other"):
            r = await admin.put(
                f"/v1/admin/accounts/{name}/smpp/{name}1", json={"password": "pw" + name[:4]}
            )
            assert r.status_code == 201, r.text
    async with client(node, keys[0]) as acme, client(node, keys[1]) as other:
        yield acme, other


def _is_deliver_sm(pdu: Pdu) -> bool:
    return isinstance(pdu, DeliverSm)


async def _final(api: httpx.AsyncClient, message_id: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if (await api.get(f"/v1/messages/{message_id}")).json()["status"] == "delivered":
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{message_id} not delivered")


async def test_messages_and_suppressions_do_not_cross_accounts(
    tenants: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    acme, other = tenants
    r = await acme.post("/v1/messages", json=sms(HANDSET))
    assert r.status_code == 202, r.text
    message_id = r.json()["id"]
    for response in (
        await other.get(f"/v1/messages/{message_id}"),
        await other.delete(f"/v1/messages/{message_id}"),
    ):
        assert response.status_code == 404 and response.json()["code"] == "message.not_found"
    listed = await other.get("/v1/messages", params={"to": HANDSET})
    assert listed.status_code == 200 and listed.json()["data"] == []
    await _final(acme, message_id)  # the other account's DELETE did not cancel it

    assert (await acme.post("/v1/suppressions", json={"numbers": [HANDSET]})).status_code == 201
    seen = (await other.get(f"/v1/suppressions/{HANDSET}")).json()
    assert seen["suppressed"] is False
    assert (await other.get("/v1/suppressions")).json()["data"] == []
    removed = await other.delete(f"/v1/suppressions/{HANDSET}")
    assert removed.status_code == 404 and removed.json()["code"] == "suppression.not_found"
    assert (await acme.get(f"/v1/suppressions/{HANDSET}")).json()["suppressed"] is True
    # Acme's opt-out list does not stop the other account's promotional messages.
    promo = await other.post("/v1/messages", json={**sms(HANDSET), "type": "promotional"})
    assert promo.status_code == 202, promo.text


# The account filters below are SQL shared by both stores; one store keeps make test short.
@pytest.mark.parametrize("node", ["sqlite"], indirect=True)
async def test_webhook_events_go_to_their_own_account_only(
    tenants: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    acme, other = tenants
    hooks = WebhookReceiver()
    await hooks.start()
    try:
        for name, api in (("acme", acme), ("other", other)):
            r = await api.put("/v1/webhooks", json={"url": f"{hooks.url}?account={name}"})
            assert r.status_code in (200, 201), r.text
        message_id = (await acme.post("/v1/messages", json=sms(HANDSET))).json()["id"]
        await _final(acme, message_id)
        deadline = time.monotonic() + 10
        while len(hooks.acknowledged) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        replayed = await other.post("/v1/webhooks/replay", json={"from_sequence": 1})
        assert replayed.status_code == 200 and replayed.json()["replayed"] == 0
        await asyncio.sleep(0.5)  # anything misrouted would arrive by now
    finally:
        await hooks.stop()
    paths = {d.path for d in hooks.acknowledged}
    assert paths == {"/hooks/sms?account=acme"}, paths
    assert {e["data"]["message_id"] for e in hooks.events()} == {message_id}
    assert (await other.get("/v1/webhooks")).json()["url"].endswith("account=other")


@pytest.mark.parametrize("node", ["sqlite"], indirect=True)
async def test_smpp_receipts_go_to_the_submitting_accounts_binds_only(
    node: Gateway, tenants: tuple[httpx.AsyncClient, httpx.AsyncClient]
) -> None:
    acme, other = tenants
    spy = await TestEsme.connect(node.smpp_port)
    assert await spy.bind("rx", system_id="other1", password="pwothe") == 0
    sender = await TestEsme.connect(node.smpp_port)
    assert await sender.bind("trx", system_id="acme1", password="pwacme") == 0
    try:
        response = await sender.request(submit(b"receipt please", receipt=1))
        assert response.command_status == 0
        receipt = await sender.wait_for(_is_deliver_sm, timeout=10)
        assert isinstance(receipt, DeliverSm) and receipt.esm_class & 0x04
        # Nor does anything of a REST message of acme's reach the other account's receiver.
        await acme.post("/v1/messages", json=sms(HANDSET))
        with pytest.raises(TimeoutError):
            await spy.wait_for(_is_deliver_sm, timeout=1.0)
    finally:
        await spy.close()
        await sender.close()
    listed = (await other.get("/v1/messages")).json()["data"]
    assert listed == []


@pytest.mark.parametrize("node", ["sqlite"], indirect=True)
async def test_inbound_goes_to_the_number_owner_only(
    node: Gateway, tenants: tuple[httpx.AsyncClient, httpx.AsyncClient]
) -> None:
    acme, other = tenants
    async with client(node, ADMIN_KEY) as admin:
        assert (await admin.put(f"/v1/admin/accounts/acme/numbers/{OUR_NUMBER}")).status_code == 200
    spy = await TestEsme.connect(node.smpp_port)
    assert await spy.bind("rx", system_id="other1", password="pwothe") == 0
    owner = await TestEsme.connect(node.smpp_port)
    assert await owner.bind("rx", system_id="acme1", password="pwacme") == 0
    try:
        assert node.simulator is not None
        node.simulator.send_mo(source=HANDSET, destination=OUR_NUMBER, text="hello acme")
        mo = await owner.wait_for(_is_deliver_sm, timeout=10)
        assert isinstance(mo, DeliverSm) and mo.short_message == b"hello acme"
        with pytest.raises(TimeoutError):
            await spy.wait_for(_is_deliver_sm, timeout=1.0)
    finally:
        await spy.close()
        await owner.close()
    assert [m["text"] for m in (await acme.get("/v1/inbound")).json()["data"]] == ["hello acme"]
    assert (await other.get("/v1/inbound")).json()["data"] == []
