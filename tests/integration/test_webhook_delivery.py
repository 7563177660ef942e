"""The webhook deliverer against each store: two nodes share the outbox without sending an
account's events twice or out of order, and a target that is no longer allowed is not posted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from gateway.domain import MessageType, NewMessage, NewPart, PartUpdate, Status, new_id
from gateway.domain.webhooks import EVENT_TYPES
from gateway.metrics import Metrics
from gateway.store import Store
from gateway.webhook_targets import check_target, resolve
from gateway.webhooks import WebhookDelivery
from tests.integration.webhook_receiver import WebhookReceiver

NOW = time.time()


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    r = WebhookReceiver()
    await r.start()
    try:
        yield r
    finally:
        await r.stop()


async def _account_with_events(store: Store, url: str, messages: int) -> str:
    """An account whose webhook is owed 2 events per message (submitted, delivered)."""
    account_id = new_id()
    await store.create_account(account_id=account_id, name=f"a{account_id[-6:]}", now=NOW)
    await store.put_webhook(
        account_id=account_id,
        url=f"{url}?account={account_id}",
        events=EVENT_TYPES,
        secret="s",
        rotate=False,
        now=NOW,
    )
    batch = [
        NewMessage(
            id=new_id(),
            account_id=account_id,
            source="Acme",
            destination="+4915112345678",
            body="hi",
            encoding="gsm7",
            message_type=MessageType.OTP,
            connector="c",
            parts=(NewPart(seq=0, encoding="gsm7", data_coding=0, udh=b"", payload=b"hi"),),
            created_at=NOW,
        )
        for _ in range(messages)
    ]
    await store.insert_messages(batch, owner=None)
    for status in (Status.SUBMITTED, Status.DELIVERED):
        await store.apply_updates([PartUpdate(m.id, 0, status, time.time()) for m in batch])
    return account_id


def _deliverer(store: Store, node_id: str, *, allow_private: bool = True) -> WebhookDelivery:
    return WebhookDelivery(
        store=store,
        node_id=node_id,
        metrics=Metrics(),
        allow_private=allow_private,
        batch=7,
        retry_base=0.02,
        retry_cap=0.1,
        poll_interval=0.05,
    )


async def test_two_nodes_deliver_each_accounts_events_once_in_order(
    store: Store, receiver: WebhookReceiver
) -> None:
    receiver.fail_first = 3
    accounts = [await _account_with_events(store, receiver.url, 10) for _ in range(3)]
    assert await store.count_pending_webhook_events() == 60
    nodes = [_deliverer(store, "node-a"), _deliverer(store, "node-b")]
    for node in nodes:
        node.start()
    try:
        deadline = time.monotonic() + 20
        while len(receiver.acknowledged) < 60:
            assert time.monotonic() < deadline, len(receiver.acknowledged)
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # nothing more comes
    finally:
        for node in nodes:
            await node.stop()
    by_account: dict[str, list[int]] = {}
    for delivery in receiver.acknowledged:
        event = delivery.event
        assert delivery.headers["gateway-event-sequence"] == str(event["sequence"])
        by_account.setdefault(delivery.path, []).append(event["sequence"])
    assert sorted(by_account) == sorted(f"/hooks/sms?account={a}" for a in accounts)
    for sequences in by_account.values():
        assert sequences == list(range(1, 21))
    assert await store.count_pending_webhook_events() == 0


async def test_a_target_that_is_not_allowed_is_never_posted(
    store: Store, receiver: WebhookReceiver
) -> None:
    account_id = await _account_with_events(store, receiver.url, 1)
    node = _deliverer(store, "node-a", allow_private=False)
    node.start()
    try:
        await asyncio.sleep(0.5)
    finally:
        await node.stop()
    assert receiver.requests == 0
    metrics = node.metrics.render().decode()
    assert "gateway_webhook_outbox_pending 2.0" in metrics
    assert 'gateway_webhook_deliveries_total{outcome="retry"}' in metrics
    (head, *_) = await store.pending_webhook_events(account_id=account_id, limit=10)
    assert head.sequence == 1
    assert head.attempts >= 1


class _RebindingDns:
    """A name server that answers a public address the first `honest` times it is asked and the
    real (loopback) address after: a DNS-rebinding attacker with a zero TTL."""

    def __init__(self, honest: int) -> None:
        self.honest = honest
        self.asked = 0

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked += 1
        if self.asked <= self.honest:
            return ["93.184.216.34"]
        return await resolve(host, port)


async def test_dns_rebinding_between_check_and_connect_is_refused(
    store: Store, receiver: WebhookReceiver
) -> None:
    # "localhost" resolves to the receiver for real; the check sees a public address.
    url = receiver.url.replace("127.0.0.1", "localhost")
    dns = _RebindingDns(honest=1)
    await check_target(url, allow_private=False, resolver=_RebindingDns(honest=1))
    account_id = await _account_with_events(store, url, 1)
    node = WebhookDelivery(
        store=store,
        node_id="node-a",
        metrics=Metrics(),
        allow_private=False,
        retry_base=0.02,
        retry_cap=0.1,
        poll_interval=0.05,
        resolver=dns,
    )
    node.start()
    try:
        deadline = time.monotonic() + 5
        while dns.asked < 4:  # the pre-send check, then connects on several attempts
            assert time.monotonic() < deadline, dns.asked
            await asyncio.sleep(0.05)
    finally:
        await node.stop()
    assert receiver.requests == 0
    (head, *_) = await store.pending_webhook_events(account_id=account_id, limit=10)
    assert head.sequence == 1 and head.attempts >= 1


async def test_allowed_private_target_is_reached_by_name_with_its_host_header(
    store: Store, receiver: WebhookReceiver
) -> None:
    """The checked transport leaves the request alone: the receiver sees the URL's host in
    `Host` (the backend only chooses the address it connects to)."""
    url = receiver.url.replace("127.0.0.1", "localhost")
    await _account_with_events(store, url, 1)
    node = _deliverer(store, "node-a", allow_private=True)
    node.start()
    try:
        deadline = time.monotonic() + 5
        while len(receiver.acknowledged) < 2:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
    finally:
        await node.stop()
    assert receiver.acknowledged[0].headers["host"].startswith("localhost:")
