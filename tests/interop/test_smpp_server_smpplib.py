"""smpplib, an independent ESME library, against our SMPP server in a running gateway."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.gsm

from gateway.app import Gateway
from tests.conftest import DEMO_SMPP_PASSWORD

pytestmark = pytest.mark.usefixtures("gateway")


def _client(port: int, *, timeout: float = 5) -> smpplib.client.Client:
    client = smpplib.client.Client(
        "127.0.0.1", port, timeout=timeout, allow_unknown_opt_params=True
    )
    client.connect()
    return client


def _send(client: smpplib.client.Client, text: str, *, receipt: bool = True) -> int:
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
            registered_delivery=receipt,
        )
    return len(parts)


def _transceiver_session(port: int, texts: list[str]) -> dict[str, Any]:
    ids: list[str] = []
    receipts: list[Any] = []
    client = _client(port)
    client.set_message_sent_handler(lambda pdu, **_: ids.append(pdu.message_id.decode()))
    client.set_message_received_handler(lambda pdu, **_: receipts.append(pdu))
    try:
        client.bind_transceiver(system_id="demo", password=DEMO_SMPP_PASSWORD)
        expected = sum(_send(client, text) for text in texts)
        deadline = time.monotonic() + 15
        while (len(ids) < expected or len(receipts) < expected) and time.monotonic() < deadline:
            client.read_once()
        client.unbind()
    finally:
        client.disconnect()
    return {"ids": ids, "receipts": receipts, "expected": expected}


async def test_transceiver_submits_short_long_and_unicode_and_gets_every_receipt(
    gateway: Gateway,
) -> None:
    texts = ["hello", "long " * 70, "Grüße 😀 " * 12]
    result = await asyncio.to_thread(_transceiver_session, gateway.smpp_port, texts)
    assert len(result["ids"]) == result["expected"] == len(set(result["ids"]))
    receipted = {}
    for pdu in result["receipts"]:
        assert pdu.esm_class & 0x3C == 0x04
        receipted[pdu.receipted_message_id.decode()] = pdu.short_message.decode()
    assert set(receipted) == set(result["ids"])
    assert all("stat:DELIVRD" in text for text in receipted.values())
    # The long messages are one message each, with their parts' UDH kept.
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{gateway.http_port}",
        headers={"Authorization": f"Bearer {gateway.demo_key}"},
    ) as api:
        long_id = next(i for i in result["ids"] if i.endswith("-2"))
        body = (await api.get(f"/v1/messages/{long_id.split('-')[0]}")).json()
        assert body["status"] == "delivered" and body["segments"] == len(body["parts"]) > 1


def _bind_with(port: int, password: str) -> int:
    client = _client(port)
    try:
        client.bind_transmitter(system_id="demo", password=password)
        return 0
    except smpplib.exceptions.PDUError as exc:
        return int(exc.args[1])
    finally:
        client.disconnect()


async def test_wrong_password_is_refused_and_slowed_down(gateway: Gateway) -> None:
    started = time.monotonic()
    assert await asyncio.to_thread(_bind_with, gateway.smpp_port, "wrong") == 0x0E  # RINVPASWD
    assert await asyncio.to_thread(_bind_with, gateway.smpp_port, "wrong") == 0x0E
    assert time.monotonic() - started >= 0.25  # the second answer waited
    assert await asyncio.to_thread(_bind_with, gateway.smpp_port, DEMO_SMPP_PASSWORD) == 0


def _receive_mos(port: int, count: int) -> list[Any]:
    received: list[Any] = []
    client = _client(port)
    client.set_message_received_handler(lambda pdu, **_: received.append(pdu))
    try:
        client.bind_receiver(system_id="demo", password=DEMO_SMPP_PASSWORD)
        deadline = time.monotonic() + 15
        while len(received) < count and time.monotonic() < deadline:
            client.read_once()
    finally:
        client.disconnect()
    return received


async def test_receiver_gets_short_and_long_mo(gateway: Gateway) -> None:
    assert gateway.store is not None and gateway.simulator is not None
    account = await gateway.store.get_account_by_name("demo")
    assert account is not None
    await gateway.store.add_number(number="+4930123456789", account_id=account.id, now=time.time())
    long_text = "A long reply from the handset, " * 10
    gateway.simulator.send_mo(source="+4915112345678", destination="+4930123456789", text="YES")
    gateway.simulator.send_mo(source="+4915112345678", destination="+4930123456789", text=long_text)
    pdus = await asyncio.to_thread(_receive_mos, gateway.smpp_port, 2)
    texts = set()
    for pdu in pdus:
        assert pdu.esm_class == 0 and pdu.source_addr.decode() == "4915112345678"
        body = pdu.short_message or pdu.message_payload
        texts.add(body.decode())
    assert texts == {"YES", long_text}
