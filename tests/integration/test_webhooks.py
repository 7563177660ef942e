"""Webhooks through the real path: the API sets them, status changes and inbound messages
commit their events, the deliverer POSTs them to a real HTTP server on loopback. Both stores."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import Gateway
from gateway.cli import main
from gateway.connector import UpstreamReceipt
from gateway.domain import Status
from gateway.domain.webhooks import verify
from tests.conftest import DEMO_KEY
from tests.integration.stores_gateway import ADMIN_KEY, any_api, any_gateway, gateway_settings
from tests.integration.webhook_receiver import WebhookReceiver

__all__ = ["any_api", "any_gateway"]

HANDSET = "+4915112345678"
OUR_NUMBER = "+4930123456789"


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    r = WebhookReceiver()
    await r.start()
    try:
        yield r
    finally:
        await r.stop()


async def _eventually(check: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def _submit(api: httpx.AsyncClient, text: str = "hi") -> str:
    r = await api.post("/v1/messages", json={"to": HANDSET, "from": "Acme", "text": text})
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


async def _subscribe(api: httpx.AsyncClient, url: str, **extra: Any) -> dict[str, Any]:
    r = await api.put("/v1/webhooks", json={"url": url, **extra})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _delivered_ids(receiver: WebhookReceiver) -> set[str]:
    return {e["data"]["message_id"] for e in receiver.events() if e["type"] == "message.delivered"}


async def test_a_receiver_failing_for_a_while_gets_every_event_in_sequence_order(
    any_api: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    receiver.fail_first = 5
    secret = (await _subscribe(any_api, receiver.url))["secret"]
    sent = [await _submit(any_api, f"m{i}") for i in range(3)]
    await _eventually(lambda: _delivered_ids(receiver) == set(sent))
    assert receiver.requests > len(receiver.acknowledged)  # it did fail, and was retried
    events = receiver.events()
    # Once acknowledged, each event exactly once here, numbered 1..n without a gap, in order.
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
    assert len({e["id"] for e in events}) == len(events)
    for message_id in sent:
        mine = [e for e in events if e["data"]["message_id"] == message_id]
        assert mine[-1]["type"] == "message.delivered"
        assert mine[-1]["data"]["status"] == "delivered"
        assert mine[-1]["data"]["to"] == HANDSET
        assert {e["type"] for e in mine} <= {"message.submitted", "message.delivered"}
    for delivery in receiver.acknowledged:
        header = delivery.headers["gateway-signature"]
        assert verify(secret, header, delivery.body, now=time.time())
        # The documented recipe, written independently of the gateway's code:
        fields = dict(item.split("=", 1) for item in header.split(","))
        mac = hmac.new(secret.encode(), fields["t"].encode() + b"." + delivery.body, hashlib.sha256)
        assert hmac.compare_digest(mac.hexdigest(), fields["v1"])
        assert delivery.headers["gateway-event-id"] == delivery.event["id"]
        assert not verify("whsec_wrong", header, delivery.body, now=time.time())
        assert not verify(secret, header, delivery.body + b" ", now=time.time())


async def test_a_late_receipt_after_delivered_produces_no_event(
    any_gateway: Gateway, any_api: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    await _subscribe(any_api, receiver.url)
    message_id = await _submit(any_api)
    await _eventually(lambda: _delivered_ids(receiver) == {message_id})
    count = len(receiver.acknowledged)
    part = (await any_api.get(f"/v1/messages/{message_id}")).json()["parts"][0]
    assert any_gateway.receipts is not None
    await any_gateway.receipts.receipts_received(
        part["connector"],
        [UpstreamReceipt(part["upstream_id"], Status.UNDELIVERED, "UNDELIVERABLE", "0x00B")],
    )
    await asyncio.sleep(1.0)
    assert len(receiver.acknowledged) == count
    assert any_gateway.store is not None
    assert await any_gateway.store.count_pending_webhook_events() == 0
    assert (await any_api.get(f"/v1/messages/{message_id}")).json()["status"] == "delivered"


async def test_only_the_subscribed_event_types_are_sent(
    any_api: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    await _subscribe(any_api, receiver.url, events=["message.delivered"])
    sent = {await _submit(any_api) for _ in range(2)}
    await _eventually(lambda: _delivered_ids(receiver) == sent)
    assert [e["type"] for e in receiver.events()] == ["message.delivered"] * 2
    assert [e["sequence"] for e in receiver.events()] == [1, 2]


async def test_an_account_without_a_webhook_gets_no_events(any_gateway: Gateway) -> None:
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{any_gateway.http_port}",
        headers={"Authorization": f"Bearer {DEMO_KEY}"},
    ) as api:
        message_id = await _submit(api)
        deadline = time.monotonic() + 10
        while (await api.get(f"/v1/messages/{message_id}")).json()["status"] != "delivered":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
    assert any_gateway.store is not None
    assert await any_gateway.store.count_pending_webhook_events() == 0
    assert (
        await any_gateway.store.replay_webhook_events(
            account_id=(await _demo_id(any_gateway)), from_sequence=0, since=0
        )
        == 0
    )


async def _demo_id(gateway: Gateway) -> str:
    assert gateway.store is not None
    account = await gateway.store.get_account_by_name("demo")
    assert account is not None
    return account.id


async def test_inbound_messages_are_events_too(
    any_gateway: Gateway, any_api: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    assert any_gateway.store is not None and any_gateway.simulator is not None
    await any_gateway.store.add_number(
        number=OUR_NUMBER, account_id=await _demo_id(any_gateway), now=time.time()
    )
    await _subscribe(any_api, receiver.url, events=["inbound.received"])
    any_gateway.simulator.send_mo(source=HANDSET, destination=OUR_NUMBER, text="STOP now")
    await _eventually(lambda: len(receiver.acknowledged) == 1)
    (event,) = receiver.events()
    assert event["type"] == "inbound.received"
    assert event["sequence"] == 1
    assert event["data"]["text"] == "STOP now"
    assert event["data"]["from"] == HANDSET
    listed = (await any_api.get("/v1/inbound")).json()["data"]
    assert event["data"]["inbound_id"] == listed[0]["id"]


async def test_replay_resends_from_a_sequence_with_the_same_ids_in_order(
    any_gateway: Gateway, any_api: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    await _subscribe(any_api, receiver.url)
    sent = {await _submit(any_api) for _ in range(2)}
    await _eventually(lambda: _delivered_ids(receiver) == sent)
    await _settled(any_gateway)
    first = receiver.events()
    r = await any_api.post("/v1/webhooks/replay", json={"from_sequence": 2})
    assert r.status_code == 200, r.text
    assert r.json() == {"replayed": len(first) - 1}
    await _eventually(lambda: len(receiver.acknowledged) == 2 * len(first) - 1)
    again = receiver.events()[len(first) :]
    assert [(e["id"], e["sequence"]) for e in again] == [
        (e["id"], e["sequence"]) for e in first[1:]
    ]

    await _settled(any_gateway)
    since = first[-1]["created_at"]
    r = await any_api.post("/v1/webhooks/replay", json={"since": _iso(since - 0.001)})
    assert r.json()["replayed"] >= 1


async def _settled(gateway: Gateway) -> None:
    """Acknowledged events are recorded as delivered when their batch ends, and only recorded
    ones can be replayed: wait for that."""
    assert gateway.store is not None
    deadline = time.monotonic() + 10
    while await gateway.store.count_pending_webhook_events():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


def _iso(epoch: float) -> str:
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch))
    return f"{whole}.{int(epoch % 1 * 1_000_000):06d}Z"


async def test_secret_is_shown_once_and_rotates(
    any_api: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    assert (await any_api.get("/v1/webhooks")).json()["code"] == "webhook.not_found"
    created = await _subscribe(any_api, receiver.url)
    assert created["secret"].startswith("whsec_")
    assert created["events"] == [
        "message.submitted",
        "message.delivered",
        "message.undelivered",
        "message.expired",
        "message.rejected",
        "message.failed",
        "message.cancelled",
        "inbound.received",
    ]
    changed = await _subscribe(any_api, receiver.url + "?v=2", events=["message.failed"])
    assert changed["secret"] is None
    read = (await any_api.get("/v1/webhooks")).json()
    assert read["url"] == receiver.url + "?v=2"
    assert read["events"] == ["message.failed"]
    assert read["secret"] is None
    rotated = await _subscribe(any_api, receiver.url, rotate_secret=True)
    assert rotated["secret"] not in (None, created["secret"])
    assert (await any_api.delete("/v1/webhooks")).status_code == 204
    r = await any_api.delete("/v1/webhooks")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert (await any_api.post("/v1/webhooks/replay", json={})).json()["code"] == (
        "webhook.not_found"
    )
    r = await any_api.put("/v1/webhooks", json={"url": receiver.url, "events": ["nope"]})
    assert r.status_code == 422


async def test_admin_manages_any_accounts_webhook(
    any_api: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    path = "/v1/admin/accounts/demo/webhook"
    r = await any_api.put(path, json={"url": receiver.url})  # the account's key is not admin
    assert r.status_code == 401
    assert r.json()["code"] == "auth.admin_unauthorized"
    r = await any_api.put(path, json={"url": receiver.url}, headers=admin)
    assert r.status_code == 200
    assert r.json()["secret"].startswith("whsec_")
    assert (await any_api.get("/v1/webhooks")).json()["url"] == receiver.url
    assert (await any_api.get(path, headers=admin)).json()["url"] == receiver.url
    account_id = (await any_api.get("/v1/admin/accounts/demo", headers=admin)).json()["id"]
    by_id = f"/v1/admin/accounts/{account_id}/webhook"
    assert (await any_api.get(by_id, headers=admin)).json()["url"] == receiver.url
    assert (await any_api.delete(path, headers=admin)).status_code == 204
    assert (await any_api.get(path, headers=admin)).json()["code"] == "webhook.not_found"
    r = await any_api.get("/v1/admin/accounts/nobody/webhook", headers=admin)
    assert r.status_code == 404
    assert r.json()["code"] == "account.not_found"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "ftp://93.184.215.14/hook",
        "https://user:pw@93.184.215.14/hook",
        "not a url",
    ],
)
async def test_private_and_non_http_targets_are_refused(api: httpx.AsyncClient, url: str) -> None:
    r = await api.put("/v1/webhooks", json={"url": url})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "webhook.url_not_allowed"
    assert (await api.get("/v1/webhooks")).status_code == 404


async def test_a_public_address_is_accepted(api: httpx.AsyncClient) -> None:
    r = await api.put("/v1/webhooks", json={"url": "https://93.184.215.14/hook"})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
async def test_an_event_never_acknowledged_is_given_up_and_the_stream_goes_on(
    store: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    receiver: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("GATEWAY_"):
            monkeypatch.delenv(name)
    gateway = Gateway(gateway_settings(tmp_path, store, request, webhook_max_age=0.5))
    await gateway.start()
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{gateway.http_port}",
            headers={"Authorization": f"Bearer {DEMO_KEY}"},
        ) as api:
            receiver.fail_always = True
            await _subscribe(api, receiver.url, events=["message.delivered"])
            await _submit(api)
            text = ""
            deadline = time.monotonic() + 15
            while 'gateway_webhook_deliveries_total{outcome="failed"} 1.0' not in text:
                assert time.monotonic() < deadline, text
                await asyncio.sleep(0.1)
                text = gateway.metrics.render().decode()
            assert 'gateway_webhook_deliveries_total{outcome="retry"}' in text
            assert "gateway_webhook_retries_total" in text
            assert "gateway_webhook_outbox_pending" in text
            # The receiver recovers: the next event goes out, the failed one can be replayed.
            receiver.fail_always = False
            later = await _submit(api)
            await _eventually(lambda: _delivered_ids(receiver) == {later})
            assert [e["sequence"] for e in receiver.events()] == [2]
            await _settled(gateway)
            assert (await api.post("/v1/webhooks/replay", json={})).json()["replayed"] == 2
            await _eventually(lambda: len(receiver.acknowledged) == 3)
            assert [e["sequence"] for e in receiver.events()] == [2, 1, 2]
    finally:
        await gateway.stop()


async def test_the_operator_command_replays_an_accounts_events(
    any_gateway: Gateway,
    any_api: httpx.AsyncClient,
    receiver: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await _subscribe(any_api, receiver.url)
    sent = {await _submit(any_api)}
    await _eventually(lambda: _delivered_ids(receiver) == sent)
    await _settled(any_gateway)
    first = receiver.events()

    settings = any_gateway.settings
    monkeypatch.setenv("GATEWAY_DATABASE_URL", settings.database_url)
    if settings.database_schema:
        monkeypatch.setenv("GATEWAY_DATABASE_SCHEMA", settings.database_schema)
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["webhooks", "replay", "demo", "--since", "1h"])
    assert code == 0
    assert f"{len(first)} webhook event(s) of demo will be sent again" in capsys.readouterr().out
    any_gateway.webhooks.wake()  # type: ignore[union-attr]  # (nodes poll; no need to wait)
    await _eventually(lambda: len(receiver.acknowledged) == 2 * len(first))
    assert [e["id"] for e in receiver.events()[len(first) :]] == [e["id"] for e in first]

    unknown = await asyncio.to_thread(main, ["webhooks", "replay", "nobody"])
    assert unknown == 1
