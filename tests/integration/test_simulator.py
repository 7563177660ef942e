"""The SMSC simulator behaves like an SMSC where the gateway's tests rely on it."""

from __future__ import annotations

import asyncio

from gateway.simulator import Simulator, SimulatorConfig
from gateway.smpp.pdu import DeliverSm
from gateway.smpp.tlv import Tlv
from tests.esme_client import TestEsme, submit


async def test_receipts_wait_for_a_receiver_and_come_again_if_unanswered() -> None:
    sim = Simulator(SimulatorConfig(port=0, password="secret", receipt_delay=0.01))
    await sim.start()
    try:
        tx = await TestEsme.connect(sim.port)
        assert await tx.bind("tx", system_id="gateway", password="secret") == 0
        ids = {(await tx.request(submit(f"m{i}".encode()))).message_id for i in range(5)}
        await asyncio.sleep(0.1)  # receipts are due, but nobody can receive them yet

        rx = await TestEsme.connect(sim.port)
        rx.auto_ack = False  # takes them, then vanishes without answering
        assert await rx.bind("rx", system_id="gateway", password="secret") == 0
        first = {(await rx.read()).tlvs[Tlv.RECEIPTED_MESSAGE_ID] for _ in range(5)}  # type: ignore[union-attr]
        assert first == ids
        rx.writer.transport.abort()  # type: ignore[attr-defined]

        rx2 = await TestEsme.connect(sim.port)
        assert await rx2.bind("rx", system_id="gateway", password="secret") == 0
        again = set()
        while again != ids:
            pdu = await rx2.read(timeout=5)
            if isinstance(pdu, DeliverSm):
                again.add(pdu.tlvs[Tlv.RECEIPTED_MESSAGE_ID])
        for esme in (tx, rx2):
            await esme.close()
    finally:
        await sim.stop()
