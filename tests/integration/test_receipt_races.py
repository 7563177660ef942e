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


async def test_parked_receipt_survives_a_restart_and_matches_another_nodes_submit(
    tmp_path: Path,
) -> None:
    """The carrier was told we have the receipt: it must not live in memory only."""
    from gateway.connector import UpstreamReceipt
    from gateway.domain import MessageType, NewMessage, NewPart, PartUpdate, Status, new_id
    from gateway.metrics import Metrics
    from gateway.receipts import ReceiptCorrelator
    from gateway.status import StatusWriter
    from gateway.store import open_store

    store = open_store(f"sqlite:///{tmp_path}/r.db")
    await store.open()
    await store.migrate()
    try:
        account = await store.create_account(account_id=new_id(), name="a", now=1.0)
        message = NewMessage(
            id=new_id(), account_id=account.id, source="Acme", destination="+4915112345678",
            body="x", encoding="gsm7", message_type=MessageType.TRANSACTIONAL, connector="c",
            parts=(NewPart(0, "gsm7", 0, b"", b"x"),), created_at=1.0,
        )  # fmt: skip
        await store.insert_messages([message], owner="node-a")
        status = StatusWriter(store=store)
        first = ReceiptCorrelator(store=store, status=status, metrics=Metrics())
        await first.receipts_received(
            "c", [UpstreamReceipt("up-1", Status.DELIVERED, "DELIVERED")]
        )  # parked: the id is not stored yet
        # The node restarts (its memory is gone); node A then commits the submit result.
        await status.apply([PartUpdate(message.id, 0, Status.SUBMITTED, 2.0, upstream_id="up-1")])
        second = ReceiptCorrelator(store=store, status=status, metrics=Metrics())
        await second.recheck()
        record = await store.get_message(account_id=account.id, message_id=message.id)
        assert record is not None and record.status is Status.DELIVERED
    finally:
        await store.close()
