"""Inbound (MO) messages: carrier -> gateway -> the ESME of the account that owns the number."""

from __future__ import annotations

import asyncio
import time

from gateway.app import Gateway
from gateway.domain import InboundPart
from gateway.inbound import MO_TTL, assemble
from gateway.smpp.pdu import DeliverSm
from gateway.smpp.tlv import Tlv
from gateway.text import decode_short_message
from tests.conftest import DEMO_SMPP_PASSWORD
from tests.esme_client import TestEsme

OUR_NUMBER = "+4930123456789"
HANDSET = "+4915112345678"


async def _setup(gateway: Gateway) -> str:
    assert gateway.store is not None
    account = await gateway.store.get_account_by_name("demo")
    assert account is not None
    await gateway.store.add_number(number=OUR_NUMBER, account_id=account.id, now=time.time())
    return account.id


def _text(pdu: DeliverSm) -> str:
    payload = pdu.tlvs.get(Tlv.MESSAGE_PAYLOAD)
    body = pdu.short_message or (payload if isinstance(payload, bytes) else b"")
    text = decode_short_message(body, data_coding=pdu.data_coding, udhi=False, packed=False).text()
    assert text is not None
    return text


async def _mo_texts(esme: TestEsme, count: int, timeout: float = 10) -> list[DeliverSm]:
    got: list[DeliverSm] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        try:
            pdu = await esme.read(timeout=max(deadline - time.monotonic(), 0.01))
        except TimeoutError:
            break
        if isinstance(pdu, DeliverSm) and not pdu.esm_class & 0x3C:
            got.append(pdu)
    return got


async def test_short_and_long_mo_reach_the_accounts_receiver(gateway: Gateway) -> None:
    account_id = await _setup(gateway)
    esme = await TestEsme.connect(gateway.smpp_port)
    assert await esme.bind("rx", password=DEMO_SMPP_PASSWORD) == 0
    assert gateway.simulator is not None
    long_text = "Ein längerer Text mit Emoji 😀 und mehr, " * 6  # several UCS-2 parts
    gateway.simulator.send_mo(source=HANDSET, destination=OUR_NUMBER, text="STOP please")
    parts = gateway.simulator.send_mo(source=HANDSET, destination=OUR_NUMBER, text=long_text)
    assert parts > 1
    mos = await _mo_texts(esme, 2)
    assert sorted(_text(p) for p in mos) == sorted(["STOP please", long_text])
    assert all(p.source_addr == HANDSET[1:] and p.source_addr_ton == 1 for p in mos)
    assert gateway.store is not None
    stored = await gateway.store.list_inbound(account_id=account_id, limit=10)
    assert {r.text for r in stored} == {"STOP please", long_text}
    assert {r.parts for r in stored} == {1, parts} and not any(r.incomplete for r in stored)
    await esme.close()


async def test_mo_waits_for_a_receiver(gateway: Gateway) -> None:
    await _setup(gateway)
    assert gateway.simulator is not None
    gateway.simulator.send_mo(source=HANDSET, destination=OUR_NUMBER, text="while you were away")
    await asyncio.sleep(0.5)
    esme = await TestEsme.connect(gateway.smpp_port)
    assert await esme.bind("trx", password=DEMO_SMPP_PASSWORD) == 0
    (mo,) = await _mo_texts(esme, 1)
    assert _text(mo) == "while you were away"
    await esme.close()


async def test_mo_for_an_unknown_number_is_kept_but_not_delivered(gateway: Gateway) -> None:
    await _setup(gateway)
    esme = await TestEsme.connect(gateway.smpp_port)
    assert await esme.bind("rx", password=DEMO_SMPP_PASSWORD) == 0
    assert gateway.simulator is not None
    gateway.simulator.send_mo(source=HANDSET, destination="+4930999999999", text="nobody")
    assert await _mo_texts(esme, 1, timeout=1.0) == []
    metrics = gateway.metrics.render().decode()
    assert 'gateway_inbound_messages_total{complete="true",owner="unowned"} 1.0' in metrics
    await esme.close()


async def test_missing_part_times_out_as_incomplete(gateway: Gateway) -> None:
    account_id = await _setup(gateway)
    assert gateway.store is not None
    now = time.time()
    first = InboundPart(
        source=HANDSET, destination=OUR_NUMBER, encoding="gsm7", data_coding=0,
        body=b"part one ", connector="simulator", received_at=now, concat=(7, 2, 1),
    )  # fmt: skip
    assert await gateway.store.add_inbound_part(first, assemble=assemble, mo_ttl=MO_TTL) is None
    (record,) = await gateway.store.expire_inbound_parts(
        older_than=now + 1, assemble=assemble, mo_ttl=MO_TTL
    )
    assert record.incomplete and record.text == "part one " and record.account_id == account_id


def test_parts_are_joined_before_decoding() -> None:
    """A sender that cuts a surrogate pair across parts still yields the right text."""
    emoji = "😀".encode("utf-16-be")
    parts = [
        InboundPart(HANDSET, OUR_NUMBER, "ucs2", 8, b"\x00a" + emoji[:2], "c", 1.0, (1, 2, 1)),
        InboundPart(HANDSET, OUR_NUMBER, "ucs2", 8, emoji[2:] + b"\x00b", "c", 2.0, (1, 2, 2)),
    ]
    assert assemble(list(reversed(parts)), False).text == "a😀b"


async def test_a_part_resent_after_assembly_is_a_duplicate(gateway: Gateway) -> None:
    await _setup(gateway)
    assert gateway.store is not None
    now = time.time()
    parts = [
        InboundPart(HANDSET, OUR_NUMBER, "gsm7", 0, body, "simulator", now, (5, 2, seq))
        for seq, body in ((1, b"hello "), (2, b"world"))
    ]
    assert await gateway.store.add_inbound_part(parts[0], assemble=assemble, mo_ttl=MO_TTL) is None
    whole = await gateway.store.add_inbound_part(parts[1], assemble=assemble, mo_ttl=MO_TTL)
    assert whole is not None and whole.text == "hello world"
    # The carrier missed our acknowledgement of part 2 and sends it again.
    assert await gateway.store.add_inbound_part(parts[1], assemble=assemble, mo_ttl=MO_TTL) is None
    assert (
        await gateway.store.expire_inbound_parts(
            older_than=now + 1, assemble=assemble, mo_ttl=MO_TTL
        )
        == []
    )  # no spurious incomplete message
