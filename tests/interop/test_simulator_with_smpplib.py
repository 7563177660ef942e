"""An independent SMPP client (smpplib) against our SMSC simulator: our PDUs on someone else's codec."""

from __future__ import annotations

import asyncio
from typing import Any

import smpplib.client
import smpplib.consts
import smpplib.gsm

from gateway.simulator import Simulator, SimulatorConfig
from gateway.smpp.receipt import MessageState


def _client_session(port: int, texts: list[str]) -> dict[str, Any]:
    """Bind as a transceiver, submit each text (split by smpplib), read responses and receipts."""
    sent: list[str] = []
    receipts: list[Any] = []
    client = smpplib.client.Client("127.0.0.1", port, timeout=5, allow_unknown_opt_params=True)
    client.set_message_sent_handler(lambda pdu, **_: sent.append(pdu.message_id.decode()))
    client.set_message_received_handler(lambda pdu, **_: receipts.append(pdu))
    client.connect()
    try:
        client.bind_transceiver(system_id="gateway", password="secret")
        expected = 0
        for text in texts:
            parts, encoding, esm_class = smpplib.gsm.make_parts(text)
            for part in parts:
                client.send_message(
                    source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
                    source_addr="Acme",
                    dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
                    dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
                    destination_addr="4915112345678",
                    short_message=part,
                    data_coding=encoding,
                    esm_class=esm_class,
                    registered_delivery=True,
                )
                expected += 1
        while len(sent) < expected or len(receipts) < expected:
            client.read_once()
        client.unbind()
    finally:
        client.disconnect()
    return {"sent": sent, "receipts": receipts}


async def test_smpplib_binds_submits_and_gets_receipts() -> None:
    simulator = Simulator(SimulatorConfig(port=0, password="secret", receipt_delay=0.01))
    await simulator.start()
    try:
        result = await asyncio.wait_for(
            asyncio.to_thread(_client_session, simulator.port, ["hello", "x" * 300, "Grüße 👋"]),
            timeout=20,
        )
    finally:
        await simulator.stop()
    # "hello" is one part, 300 GSM characters two, the emoji text one UCS-2 part.
    assert len(result["sent"]) == 4 and len(set(result["sent"])) == 4
    assert simulator.stats.submits == 4
    receipted = set()
    for pdu in result["receipts"]:
        assert pdu.esm_class & 0x3C == 0x04  # SMPP 3.4 §5.2.12: SMSC delivery receipt
        text = pdu.short_message.decode()
        assert "stat:DELIVRD" in text
        receipted.add(pdu.receipted_message_id.decode())
        assert int(pdu.message_state) == MessageState.DELIVERED
    assert receipted == set(result["sent"])
