"""Upstream faults the other suites leave out, against the real gateway and the simulator:
receipts that never come, and answers that are slow or slower than the response timeout. Each
test accounts for every message (final, none lost, duplicates at the carrier only where the
carrier's answer never reached us) and checks that nothing stays behind in memory or in flight.

Covered elsewhere: dropped connections mid-window, binds refused, throttling, temporary and
permanent errors, receipts late, twice, out of order and before the submit response
(tests/interop/test_independent_smsc.py, test_routing_failover.py, test_receipt_races.py).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from gateway.simulator import Simulator, SimulatorConfig
from tests.integration.test_routing_failover import _final, _gateway, _simulator, _submit


def _gauge(metrics: str, name: str) -> float:
    values = [
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith(name) and not line.startswith("#")
    ]
    return sum(values)


async def test_receipts_that_never_come_expire_after_the_receipt_timeout(tmp_path: Path) -> None:
    # Accepts everything, never reports (within the test).
    silent = Simulator(SimulatorConfig(port=0, password="secret", receipt_delay=3600))
    await silent.start()
    try:
        async with _gateway(
            tmp_path,
            upstream=f"smpp://gateway:secret@127.0.0.1:{silent.port}",
            receipt_timeout=1.0,
            expiry_sweep_interval=0.2,
        ) as (gateway, api):
            ids = await _submit(api, 20)
            final = await _final(api, ids, timeout=20)
            metrics = gateway.metrics.render().decode()
        assert {m["status"] for m in final.values()} == {"expired"}
        assert {m["error_code"] for m in final.values()} == {"expired"}
        assert all(m["parts"][0]["attempts"] == 1 for m in final.values())
        assert silent.stats.submits == 20  # given up on, not sent again
        assert _gauge(metrics, "gateway_parts_expired_total") == 20
        assert _gauge(metrics, "gateway_dispatch_queue_depth") == 0
        assert _gauge(metrics, "gateway_receipts_parked") == 0
    finally:
        await silent.stop()


async def test_slow_answers_within_the_timeout_deliver_everything_once(tmp_path: Path) -> None:
    slow = await _simulator(submit_latency=0.3)
    try:
        async with _gateway(
            tmp_path, upstream=f"smpp://gateway:secret@127.0.0.1:{slow.port}?window=10"
        ) as (gateway, api):
            ids = await asyncio.gather(*(_submit(api, 10) for _ in range(4)))
            flat = [i for chunk in ids for i in chunk]
            final = await _final(api, flat, timeout=30)
            metrics = gateway.metrics.render().decode()
        assert {m["status"] for m in final.values()} == {"delivered"}
        assert slow.stats.submits == 40
        assert all(m["parts"][0]["attempts"] == 1 for m in final.values())
        assert _gauge(metrics, "gateway_dispatch_queue_depth") == 0
    finally:
        await slow.stop()


async def test_answers_slower_than_the_response_timeout_are_retried_then_fail(
    tmp_path: Path,
) -> None:
    """The carrier takes each submit but answers after we stopped waiting: the at-least-once
    case. Every attempt reaches it (counted), the part fails when its attempts are used up,
    and the receipts for ids we never learned are parked, then expire: nothing is kept."""
    late = await _simulator(submit_latency=1.0)
    try:
        async with _gateway(
            tmp_path,
            upstream=f"smpp://gateway:secret@127.0.0.1:{late.port}?response_timeout=0.2",
            max_attempts=2,
            receipt_park_ttl=0.5,
        ) as (gateway, api):
            ids = await _submit(api, 5)
            final = await _final(api, ids, timeout=30)
            await asyncio.sleep(2.5)  # the late receipts come in, are parked and expire
            metrics = gateway.metrics.render().decode()
        assert {m["status"] for m in final.values()} == {"failed"}
        assert all(m["parts"][0]["attempts"] == 2 for m in final.values())
        assert late.stats.submits == 10  # each attempt reached the carrier: reported, allowed
        assert _gauge(metrics, "gateway_receipts_parked") == 0
        assert _gauge(metrics, "gateway_dispatch_queue_depth") == 0
    finally:
        await late.stop()
