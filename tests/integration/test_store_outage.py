"""A short store outage must not kill dispatch: every message still reaches its final status.

(Regression tests for a review finding: one failed status write ended a worker or the recorder
for good, and the parts that node held stayed stuck while its heartbeat went on.)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

from gateway.app import Gateway
from gateway.config import load_settings
from gateway.domain import AppliedUpdates, OutboxTake, PartUpdate, Status
from gateway.simulator import Simulator, SimulatorConfig
from gateway.store import Store
from tests.conftest import DEMO_KEY

BODY = {"to": "+4915112345678", "from": "Acme", "text": "hi"}


async def _gateway(tmp_path: Path, sim: Simulator, name: str) -> Gateway:
    gw = Gateway(
        load_settings(
            database_url=f"sqlite:///{tmp_path}/gw.db", http_port=0, smpp_port=0,
            demo_key=DEMO_KEY, node_id=name,
            upstream=f"smpp://gateway:secret@127.0.0.1:{sim.port}?binds=1&window=1",
        )
    )  # fmt: skip
    await gw.start()
    return gw


def _outage(store: Store, affected: Callable[[Sequence[PartUpdate]], bool], seconds: float) -> None:
    """The status writer's store writes fail for matching updates during `seconds` after the
    first one."""
    original = store.apply_updates_and_take
    until: list[float] = []

    async def apply_updates_and_take(
        updates: Sequence[PartUpdate], take: OutboxTake | None
    ) -> AppliedUpdates:
        if affected(updates):
            now = time.monotonic()
            if not until:
                until.append(now + seconds)
            if now < until[0]:
                raise ConnectionError("database briefly unreachable")
        return await original(updates, take)

    store.apply_updates_and_take = apply_updates_and_take  # type: ignore[method-assign]


async def _wait(api: httpx.AsyncClient, message_id: str, wanted: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        status = (await api.get(f"/v1/messages/{message_id}")).json()["status"]
        if status == wanted:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{message_id} is {status}, not {wanted}")


async def test_workers_outlive_a_store_outage(tmp_path: Path) -> None:
    sim = Simulator(SimulatorConfig(port=0, password="secret", reject_ratio=1.0))
    await sim.start()
    gw = await _gateway(tmp_path, sim, "outage-w")
    assert gw.store is not None and gw.dispatcher is not None
    try:
        _outage(gw.store, lambda updates: True, 0.5)  # the first write is the REJECTED result
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{gw.http_port}",
            headers={"Authorization": f"Bearer {DEMO_KEY}"},
        ) as api:
            first = (await api.post("/v1/messages", json=BODY)).json()["id"]
            await _wait(api, first, "rejected")
            sim.config.reject_ratio = 0.0
            second = (await api.post("/v1/messages", json=BODY)).json()["id"]
            await _wait(api, second, "delivered")
        workers = [t for t in gw.dispatcher._tasks if t.get_name().startswith("dispatch-")]
        assert workers and not any(t.done() for t in workers)
    finally:
        await gw.stop()
        await sim.stop()


async def test_recorder_outlives_a_store_outage(tmp_path: Path) -> None:
    sim = Simulator(
        SimulatorConfig(
            port=0, password="secret", receipt_before_response=True, submit_latency=0.05
        )
    )
    await sim.start()
    gw = await _gateway(tmp_path, sim, "outage-r")
    assert gw.store is not None and gw.dispatcher is not None
    try:
        _outage(gw.store, lambda us: any(u.status is Status.DELIVERED for u in us), 0.3)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{gw.http_port}",
            headers={"Authorization": f"Bearer {DEMO_KEY}"},
        ) as api:
            ids = [(await api.post("/v1/messages", json=BODY)).json()["id"] for _ in range(4)]
            for message_id in ids:
                await _wait(api, message_id, "delivered")
        assert gw.dispatcher._recorder is not None and not gw.dispatcher._recorder.done()
    finally:
        await gw.stop()
        await sim.stop()
