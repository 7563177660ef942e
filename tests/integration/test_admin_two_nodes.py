"""Admin changes take effect on every node without a restart: two gateways share one store, a
change made through node 1's admin API is in force on node 2 within the refresh interval."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from gateway.app import Gateway
from gateway.simulator import Simulator, SimulatorConfig
from tests.conftest import DEMO_KEY
from tests.integration.admin_nodes import (
    ADMIN_KEY,
    client,
    new_account,
    running,
    sms,
    store_settings,
)

REFRESH = 0.3


@pytest.fixture(params=["sqlite", "postgres"])
async def nodes(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Gateway, Gateway]]:
    shared = store_settings(request, tmp_path)
    async with (
        running(monkeypatch, node_id="node1", admin_refresh_interval=REFRESH, **shared) as one,
        running(monkeypatch, node_id="node2", admin_refresh_interval=REFRESH, **shared) as two,
    ):
        yield one, two


async def _within(seconds: float, check: Callable[[], Awaitable[bool]]) -> float:
    """How long until `check` holds; fails after `seconds`."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < seconds, "the change did not reach the other node"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_revocation_and_route_on_node1_take_effect_on_node2(
    nodes: tuple[Gateway, Gateway],
) -> None:
    one, two = nodes
    async with client(one, ADMIN_KEY) as admin1:
        key = await new_account(admin1, "acme")
        async with client(two, key) as acme2:
            # Node 2 knows the key (and caches it as valid for 30 s).
            first = await acme2.post("/v1/messages", json=sms())
            assert first.status_code == 202
            assert (await acme2.get(f"/v1/messages/{first.json()['id']}")).json()["price"] == 0

            route = await admin1.put(
                "/v1/admin/routes/de",
                json={
                    "connectors": [two.settings.default_connector],
                    "prefixes": ["+49"],
                    "price": 0.05,
                },
            )
            assert route.status_code == 200

            async def priced() -> bool:
                sent = (await acme2.post("/v1/messages", json=sms())).json()
                message = (await acme2.get(f"/v1/messages/{sent['id']}")).json()
                return bool(message["price"] == 0.05)

            assert await _within(REFRESH * 4 + 1, priced) <= REFRESH * 4 + 1

            revoked = await admin1.delete(f"/v1/admin/accounts/acme/keys/{key[:9]}")
            assert revoked.status_code == 204

            async def refused() -> bool:
                return (await acme2.post("/v1/messages", json=sms())).status_code == 401

            # Far sooner than the 30 s the key cache would otherwise keep it.
            assert await _within(REFRESH * 4 + 1, refused) <= REFRESH * 4 + 1


async def test_quota_spent_on_one_node_is_seen_by_the_other(
    nodes: tuple[Gateway, Gateway],
) -> None:
    one, two = nodes
    async with client(one, ADMIN_KEY) as admin1:
        key = await new_account(admin1, "acme", daily_quota=3)
    async with client(one, key) as acme1, client(two, key) as acme2:
        for _ in range(3):
            assert (await acme1.post("/v1/messages", json=sms())).status_code == 202
        await asyncio.sleep(REFRESH * 3)  # node 2 reads the store's counters

        over = await acme2.post("/v1/messages", json=sms())
        assert over.status_code == 429 and over.json()["code"] == "account.quota_exceeded"


async def test_a_connector_made_on_node1_carries_traffic_submitted_on_node2(
    nodes: tuple[Gateway, Gateway],
) -> None:
    one, two = nodes
    carrier = Simulator(SimulatorConfig(port=0, password="b-secret", receipt_delay=0.01))
    await carrier.start()
    try:
        async with (
            client(one, ADMIN_KEY) as admin1,
            client(two, ADMIN_KEY) as admin2,
            client(two, DEMO_KEY) as demo2,
        ):
            made = await admin1.post(
                "/v1/admin/connectors",
                json={
                    "name": "carrier-b",
                    "kind": "smpp",
                    "options": {
                        "host": "127.0.0.1",
                        "port": carrier.port,
                        "system_id": "gateway",
                        "password": "b-secret",
                    },
                },
            )
            assert made.status_code == 201, made.text
            route = await admin1.put(
                "/v1/admin/routes/to-b", json={"connectors": ["carrier-b"], "prefixes": ["+4915"]}
            )
            assert route.status_code == 200, route.text

            async def through_b() -> bool:
                before = carrier.stats.submits
                sent = await demo2.post("/v1/messages", json=sms())
                assert sent.status_code == 202
                for _ in range(100):
                    got = (await demo2.get(f"/v1/messages/{sent.json()['id']}")).json()
                    if got["status"] == "delivered":
                        break
                    await asyncio.sleep(0.05)
                return carrier.stats.submits > before

            # Node 2 started the connector and took the route without a restart.
            assert await _within(REFRESH * 4 + 5, through_b) <= REFRESH * 4 + 5
            assert carrier.stats.binds >= 2  # each node bound its own

            # A stop made on node 1 stops node 2's connector too.
            assert (await admin1.post("/v1/admin/connectors/carrier-b/stop")).status_code == 200

            async def stopped_on_node2() -> bool:
                body = (await admin2.get("/v1/admin/connectors/carrier-b")).json()
                return bool(body["state"] == "stopped")

            await _within(REFRESH * 4 + 1, stopped_on_node2)

            # Deleted on node 1 (after its route): gone from node 2.
            assert (await admin1.delete("/v1/admin/routes/to-b")).status_code == 204
            assert (await admin1.delete("/v1/admin/connectors/carrier-b")).status_code == 204

            async def gone_on_node2() -> bool:
                return (await admin2.get("/v1/admin/connectors/carrier-b")).status_code == 404

            await _within(REFRESH * 4 + 1, gone_on_node2)
    finally:
        await carrier.stop()
