"""Receipts that arrive before the submit response that gives us the carrier's id."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from gateway.app import Gateway
from gateway.config import load_settings
from gateway.simulator import Simulator, SimulatorConfig
from tests.conftest import DEMO_KEY


async def test_receipt_before_submit_response_is_parked_and_matched(tmp_path: Path) -> None:
    simulator = Simulator(
        SimulatorConfig(
            port=0, password="secret", receipt_before_response=True, submit_latency=0.05
        )
    )
    await simulator.start()
    gateway = Gateway(
        load_settings(
            database_url=f"sqlite:///{tmp_path}/gw.db", http_port=0, smpp_port=0,
            demo_key=DEMO_KEY, node_id="race",
            upstream=f"smpp://gateway:secret@127.0.0.1:{simulator.port}",
        )
    )  # fmt: skip
    await gateway.start()
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{gateway.http_port}",
            headers={"Authorization": f"Bearer {DEMO_KEY}"},
        ) as api:
            ids = []
            for i in range(20):
                response = await api.post(
                    "/v1/messages", json={"to": "+4915112345678", "from": "Acme", "text": f"r{i}"}
                )
                ids.append(response.json()["id"])
            pending = set(ids)
            for _ in range(100):
                for message_id in list(pending):
                    body = (await api.get(f"/v1/messages/{message_id}")).json()
                    if body["status"] == "delivered":
                        assert body["upstream_ids"], body
                        pending.discard(message_id)
                if not pending:
                    break
                await asyncio.sleep(0.05)
            assert not pending
        parked = gateway.metrics.render().decode()
        assert 'gateway_receipts_total{connector="upstream",outcome="parked"}' in parked
    finally:
        await gateway.stop()
        await simulator.stop()
