"""Gauges read from the store when /metrics is scraped: readiness and the shared queue."""

from __future__ import annotations

import asyncio
import time

import httpx

from gateway.app import Gateway
from gateway.domain import MessageType, NewMessage, PartUpdate, Status, new_id
from gateway.metrics import Metrics
from gateway.scrape_gauges import ScrapeGauges
from gateway.store import Store
from gateway.store.operations_sql import QueueLane
from tests.integration.test_store_contract import _message as contract_message


def _sample(text: str, name: str, **labels: str) -> float | None:
    selector = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    prefix = f"{name}{{{selector}}} " if labels else f"{name} "
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line.split()[-1])
    return None


async def _held_elsewhere(
    store: Store, kind: MessageType, connector: str, *, parts: int, age: float
) -> NewMessage:
    """A message of `parts` parts due for `age` seconds, held by another live node."""
    now = time.time()
    account_id = new_id()
    await store.create_account(account_id=account_id, name=f"gauges-{account_id}", now=now)
    await store.heartbeat(node_id="elsewhere", now=now)
    message = contract_message(
        account_id, parts, message_type=kind, connector=connector, created_at=now - age
    )
    await store.insert_messages([message], owner="elsewhere")
    return message


async def test_scrape_reports_queued_parts_and_oldest_wait_from_the_store(
    gateway: Gateway, api: httpx.AsyncClient
) -> None:
    store = gateway.store
    assert store is not None
    # Parts another live node holds: due for 10 minutes, and this node will not claim them.
    message = await _held_elsewhere(store, MessageType.OTP, "carrier-x", parts=2, age=600)

    text = (await api.get("/metrics")).text
    assert _sample(text, "gateway_ready") == 1.0
    labels = {"connector": "carrier-x", "lane": "otp"}
    assert _sample(text, "gateway_store_queued_parts", **labels) == 2.0
    age = _sample(text, "gateway_store_queue_oldest_due_seconds", **labels)
    assert age is not None and 590 <= age <= 700

    # A lane that empties stops being reported rather than keeping its last figure.
    cancelled = await store.take_for_cancel(message_id=message.id, node_id="elsewhere")
    assert cancelled == []
    await store.apply_updates(
        [PartUpdate(message.id, seq, Status.CANCELLED, time.time()) for seq in range(2)]
    )
    # The figures of the last query are reused for ten times its duration (longer on a busy
    # machine): scrape until a new query has run, within a bound.
    deadline = time.monotonic() + 10
    while True:
        text = (await api.get("/metrics")).text
        if _sample(text, "gateway_store_queued_parts", **labels) is None:
            break
        assert time.monotonic() < deadline, "the emptied lane is still reported after 10 s"
        await asyncio.sleep(0.1)


async def test_scrape_reports_not_ready_while_draining(
    gateway: Gateway, api: httpx.AsyncClient
) -> None:
    gateway.draining = True
    try:
        text = (await api.get("/metrics")).text
    finally:
        gateway.draining = False
    assert _sample(text, "gateway_ready") == 0.0


async def test_a_slow_queue_query_is_published_late_and_reused_not_dropped(
    gateway: Gateway,
) -> None:
    """A million queued parts make the query slower than a scrape may wait: its figures must
    come out at the next scrape rather than vanish (which would resolve QueueDepthHigh when the
    backlog is largest), and the query must not run back to back."""
    store = gateway.store
    assert store is not None
    await _held_elsewhere(store, MessageType.PROMOTIONAL, "carrier-y", parts=1, age=60)
    queries = 0
    failing = False
    real_queue_lanes = store.queue_lanes

    async def slow_queue_lanes(*, now: float) -> list[QueueLane]:
        nonlocal queries
        queries += 1
        await asyncio.sleep(0.3)
        if failing:
            raise ConnectionError("store down")
        return await real_queue_lanes(now=now)

    store.queue_lanes = slow_queue_lanes  # type: ignore[method-assign]
    metrics = Metrics()
    gauges = ScrapeGauges(
        metrics=metrics, store=store, readiness=gateway.readiness, wait=0.05, max_share=0.1
    )
    labels = {"connector": "carrier-y", "lane": "promotional"}
    try:
        await gauges.refresh()  # the query outlives the scrape's wait: nothing yet
        text = metrics.render().decode()
        assert _sample(text, "gateway_store_queued_parts", **labels) is None
        await asyncio.sleep(0.4)
        await gauges.refresh()  # published now; 0.3 s of query is reused for 3 s
        text = metrics.render().decode()
        assert _sample(text, "gateway_store_queued_parts", **labels) == 1.0
        age = _sample(text, "gateway_store_queue_oldest_due_seconds", **labels)
        assert age is not None and 60 <= age <= 90
        figures_age = _sample(text, "gateway_store_queue_figures_age_seconds")
        assert figures_age is not None and 0.3 <= figures_age <= 3
        await gauges.refresh()
        assert queries == 1

        # A failing query clears the figures: absent series, as alerts expect of an outage.
        failing = True
        gauges._measured_at -= 10  # past the reuse time
        await gauges.refresh()
        await asyncio.sleep(0.4)
        await gauges.refresh()
        text = metrics.render().decode()
        assert queries >= 2
        assert _sample(text, "gateway_store_queued_parts", **labels) is None
    finally:
        await gauges.close()
        store.queue_lanes = real_queue_lanes  # type: ignore[method-assign]
