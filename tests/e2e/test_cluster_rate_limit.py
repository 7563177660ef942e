"""Two gateway processes sharing PostgreSQL and Redis hold one carrier to its rate together.

The carrier comes up only once every message is committed on both nodes, so what is measured is
the shared limit, not how fast a loaded machine takes REST requests: both nodes then hold a
backlog and send it as fast as the limit lets them."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import httpx
import pytest

from gateway.simulator import Simulator, SimulatorConfig
from tests.e2e.harness import GatewayProcess, free_port

pytestmark = pytest.mark.serial  # timed: make test runs it alone, after the rest

RATE = 100.0  # segments/s the carrier allows, configured on both nodes
PER_NODE = 300


async def _submit(url: str, key: str, count: int) -> None:
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=10
    ) as api:

        async def one(i: int) -> None:
            response = await api.post(
                "/v1/messages", json={"to": "+4915112345678", "from": "Acme", "text": f"c{i}"}
            )
            assert response.status_code == 202, response.text

        for start in range(0, count, 50):
            await asyncio.gather(*(one(i) for i in range(start, min(start + 50, count))))


def _accepted(url: str) -> float:
    total = 0.0
    for line in httpx.get(url + "/metrics", timeout=5).text.splitlines():
        if line.startswith("gateway_parts_submitted_total{") and 'outcome="accepted"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_two_nodes_share_one_carrier_limit_through_redis(
    tmp_path: Path, postgres_dsn: str, pg_schema: str, redis_url: str
) -> None:
    simulator = Simulator(SimulatorConfig(port=free_port(), password="secret", receipt_delay=0.01))
    env = {
        "GATEWAY_DATABASE_SCHEMA": pg_schema,
        "GATEWAY_REDIS_URL": redis_url,
        "GATEWAY_REDIS_PREFIX": f"test:{os.urandom(6).hex()}:",
        "GATEWAY_UPSTREAM": f"smpp://gateway:secret@127.0.0.1:{simulator.port}"
        # Binds retry every 0.2-0.4 s while the carrier is down: both nodes are up within that.
        f"?window=20&tps={RATE:g}&reconnect_min=0.4&reconnect_max=0.4",
    }
    first = GatewayProcess(tmp_path, database_url=postgres_dsn, **env)
    first.start()
    nodes = [first]
    try:
        await asyncio.to_thread(first.wait_ready)  # migrates the schema before the second starts
        second = GatewayProcess(tmp_path, database_url=postgres_dsn, **{
            **env, "GATEWAY_DEMO_KEY": first.key
        })  # fmt: skip
        second.start()
        nodes.append(second)
        await asyncio.to_thread(second.wait_ready)

        samples: list[tuple[float, int]] = []
        total = 2 * PER_NODE

        async def watch() -> None:
            while True:
                samples.append((time.monotonic(), simulator.stats.submits))
                await asyncio.sleep(0.05)

        watcher = asyncio.create_task(watch())
        await asyncio.gather(*(_submit(n.url, first.key, PER_NODE) for n in nodes))
        await simulator.start()
        deadline = time.monotonic() + 3 * total / RATE + 5
        while simulator.stats.submits < total and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        watcher.cancel()
        assert simulator.stats.submits == total
        shares = [await asyncio.to_thread(_accepted, n.url) for n in nodes]
    finally:
        for node in nodes:
            await asyncio.to_thread(node.terminate)
        await simulator.stop()

    # The steady part of the run: from 10% to 90% of the messages sent.
    t10 = next(t for t, n in samples if n >= 0.1 * total)
    t90 = next(t for t, n in samples if n >= 0.9 * total)
    achieved = 0.8 * total / (t90 - t10)
    # The figure docs/performance.md quotes (`pytest -s` shows it).
    print(f"two nodes, {RATE:g}/s configured: {achieved:.1f}/s achieved, shares {shares}")
    assert abs(achieved - RATE) <= 0.1 * RATE, f"achieved {achieved:.1f}/s for {RATE:g}/s"
    # Both nodes sent a real share of the traffic: the limit was shared, not held by one node.
    assert sum(shares) == total and min(shares) >= 0.25 * total, shares
