"""Graceful drain: SIGTERM under REST and SMPP load.

The node stops taking work (new connections refused, the ESME unbound after its answers),
finishes what it was doing, hands its queued parts back to the store (no lease left for another
node to wait out), and exits 0. Nothing it acknowledged is lost: a node started afterwards on
the same store delivers every message.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import httpx

from gateway.simulator import Simulator, SimulatorConfig
from gateway.smpp.errors import LocalProtocolError
from gateway.smpp.pdu import SubmitSmResp, Unbind
from tests.e2e.harness import GatewayProcess
from tests.esme_client import TestEsme, submit

DEST = "+4915112345678"
SMPP_PASSWORD = "drain123"


async def _rest_load(node: GatewayProcess, acked: list[str], stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(
        base_url=node.url, headers={"Authorization": f"Bearer {node.key}"}, timeout=5
    ) as api:

        async def worker() -> None:
            while not stop.is_set():
                try:
                    response = await api.post(
                        "/v1/messages", json={"to": DEST, "from": "Acme", "text": "drain"}
                    )
                except httpx.HTTPError:
                    await asyncio.sleep(0.05)  # refused: the node is going away
                    continue
                if response.status_code == 202:
                    acked.append(response.json()["id"])
                else:
                    assert response.status_code == 503, response.text
                    assert response.json()["code"] == "gateway.shutting_down"

        await asyncio.gather(*(worker() for _ in range(4)))


async def _smpp_load(esme: TestEsme, acked: list[str], unbound: asyncio.Event) -> None:
    """Submits with a window of one until the gateway unbinds us; answers its unbind."""
    while not unbound.is_set():
        try:
            sent = esme.send(submit(b"drain"))
        except LocalProtocolError:  # the unbind came in with the last answer
            unbound.set()
            return
        while True:
            pdu = await esme.read(timeout=10)
            if pdu is None:
                unbound.set()
                return
            if isinstance(pdu, Unbind):
                unbound.set()
            elif isinstance(pdu, SubmitSmResp) and pdu.sequence_number == sent.sequence_number:
                if pdu.command_status == 0:
                    acked.append(pdu.message_id)
                break


async def test_sigterm_drains_and_loses_nothing(tmp_path: Path) -> None:
    # A slow carrier, so the node still holds queued parts when it is told to stop.
    carrier = Simulator(SimulatorConfig(port=0, password="secret", receipt_delay=0.01))
    await carrier.start()
    db = tmp_path / "gw.db"
    env = {
        "GATEWAY_UPSTREAM": f"smpp://gateway:secret@127.0.0.1:{carrier.port}?window=10&tps=40",
        "GATEWAY_DEMO_SMPP_PASSWORD": SMPP_PASSWORD,
        "GATEWAY_SHUTDOWN_TIMEOUT": "5",
    }
    node = GatewayProcess(tmp_path, database_url=f"sqlite:///{db}", **env)
    node.start()
    try:
        await asyncio.to_thread(node.wait_ready)
        esme = await TestEsme.connect(int(node.env["GATEWAY_SMPP_PORT"]))
        esme.auto_ack = True
        assert await esme.bind("trx", password=SMPP_PASSWORD) == 0
        rest_acked: list[str] = []
        smpp_acked: list[str] = []
        stop, unbound = asyncio.Event(), asyncio.Event()
        load = asyncio.gather(
            _rest_load(node, rest_acked, stop), _smpp_load(esme, smpp_acked, unbound)
        )
        deadline = time.monotonic() + 30
        while (len(rest_acked) < 100 or len(smpp_acked) < 20) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert node.proc is not None
        started = time.monotonic()
        node.proc.terminate()  # SIGTERM
        code = await asyncio.to_thread(node.proc.wait, 30)
        took = time.monotonic() - started
        stop.set()
        await asyncio.wait_for(load, 15)
        await esme.close()

        assert code == 0, node.output()[-3000:]
        assert took < 5 + 10, f"drain took {took:.1f}s with a 5 s shutdown timeout"
        assert unbound.is_set(), "the ESME was never unbound"
        # Leases handed back: no queued part is left owned by the stopped node.
        with sqlite3.connect(db) as conn:
            queued, owned = conn.execute(
                "SELECT COUNT(*), COUNT(owner) FROM parts WHERE status = 'queued'"
            ).fetchone()
        assert queued > 0, "the carrier kept up: nothing was left to hand back"
        assert owned == 0, f"{owned} of {queued} queued parts still leased to the stopped node"

        # Nothing acknowledged is lost: the next node on the store delivers all of it.
        acked = rest_acked + smpp_acked
        successor = GatewayProcess(
            tmp_path, database_url=f"sqlite:///{db}", **{**env, "GATEWAY_DEMO_KEY": node.key}
        )
        successor.start()
        try:
            await asyncio.to_thread(successor.wait_ready)
            async with httpx.AsyncClient(
                base_url=successor.url,
                headers={"Authorization": f"Bearer {node.key}"},
                timeout=5,
            ) as api:
                pending = set(acked)
                deadline = time.monotonic() + 60
                while pending and time.monotonic() < deadline:
                    for message_id in list(pending)[:50]:
                        body = (await api.get(f"/v1/messages/{message_id}")).json()
                        if body["status"] == "delivered":
                            pending.discard(message_id)
                    await asyncio.sleep(0.1)
            assert not pending, f"{len(pending)} of {len(acked)} acknowledged never delivered"
        finally:
            await asyncio.to_thread(successor.terminate)
    finally:
        await asyncio.to_thread(node.kill)
        await carrier.stop()
