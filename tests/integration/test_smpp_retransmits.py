"""ESMEs retransmit parts whose answer came late, and hang up mid-commit: every answer must
match what is in the store. (Regression tests for review findings.)"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import httpx

from gateway.app import Gateway
from gateway.domain import NewMessage
from gateway.smpp.codes import CommandStatus
from gateway.smpp.pdu import BindTransmitter
from tests.conftest import DEMO_KEY, DEMO_SMPP_PASSWORD
from tests.esme_client import TestEsme, submit


def _udh(ref: int, total: int, seq: int) -> bytes:
    return bytes((5, 0, 3, ref, total, seq))


async def _esme(gateway: Gateway) -> TestEsme:
    esme = await TestEsme.connect(gateway.smpp_port)
    assert await esme.bind("trx", password=DEMO_SMPP_PASSWORD) == 0
    return esme


async def _parts(gateway: Gateway, message_id: str) -> list[int]:
    assert gateway.store is not None
    account = await gateway.store.get_account_by_name("demo")
    assert account is not None
    record = await gateway.store.get_message(account_id=account.id, message_id=message_id)
    return [] if record is None else [p.seq for p in record.parts]


async def test_retransmit_is_answered_from_the_original_commit(gateway: Gateway) -> None:
    assert gateway.store is not None
    original = gateway.store.insert_messages
    calls = 0

    async def slow_then_fail(messages: Sequence[NewMessage], *, owner: str | None) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(0.5)
            raise RuntimeError("connection reset during commit")
        await original(messages, owner=owner)

    gateway.store.insert_messages = slow_then_fail  # type: ignore[method-assign]
    esme = await _esme(gateway)
    pdu = submit(_udh(7, 2, 1) + b"first half", esm_class=0x40)
    first = esme.send(pdu)
    await asyncio.sleep(0.1)
    retransmit = esme.send(pdu)
    answers = {
        p.sequence_number: p.command_status
        for p in [
            await esme.wait_for(lambda p: p.sequence_number == first.sequence_number),
            await esme.wait_for(lambda p: p.sequence_number == retransmit.sequence_number),
        ]
    }
    # The commit failed: neither copy may be acknowledged.
    assert set(answers.values()) == {CommandStatus.ESME_RSYSERR}
    # A new attempt is taken anew and succeeds.
    again = await esme.request(pdu)
    assert again.command_status == 0
    assert await _parts(gateway, again.message_id.split("-")[0]) == [0]
    await esme.close()


async def test_retransmitted_last_part_gets_the_original_id(gateway: Gateway) -> None:
    esme = await _esme(gateway)
    r1 = await esme.request(submit(_udh(9, 2, 1) + b"part one ", esm_class=0x40))
    r2 = await esme.request(submit(_udh(9, 2, 2) + b"part two", esm_class=0x40))
    r3 = await esme.request(submit(_udh(9, 2, 2) + b"part two", esm_class=0x40))
    assert r1.command_status == r2.command_status == r3.command_status == 0
    assert r3.message_id == r2.message_id
    assert await _parts(gateway, r2.message_id.split("-")[0]) == [0, 1]
    await esme.close()


async def test_hang_up_during_commit_then_retry_is_fine_for_everyone(gateway: Gateway) -> None:
    assert gateway.store is not None
    original = gateway.store.insert_messages

    async def slow(messages: Sequence[NewMessage], *, owner: str | None) -> None:
        await asyncio.sleep(0.3)
        await original(messages, owner=owner)

    esme = await _esme(gateway)
    ok1 = await esme.request(submit(_udh(11, 2, 1) + b"first half", esm_class=0x40))
    gateway.store.insert_messages = slow  # type: ignore[method-assign]
    pdu = submit(_udh(11, 2, 2) + b"second half", esm_class=0x40)
    esme.send(pdu)
    await asyncio.sleep(0.05)
    await esme.close()  # gone while its part is being committed
    await asyncio.sleep(0.6)
    message_id = ok1.message_id.split("-")[0]
    assert await _parts(gateway, message_id) == [0, 1]  # committed all the same

    esme = await _esme(gateway)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{gateway.http_port}",
        headers={"Authorization": f"Bearer {DEMO_KEY}"},
        timeout=10,
    ) as api:
        other = asyncio.create_task(
            api.post("/v1/messages", json={"to": "+4915112345678", "from": "Other", "text": "x"})
        )
        retry = await esme.request(pdu)  # the ESME's retry of the part it never heard about
        assert retry.command_status == 0 and retry.message_id == f"{message_id}-2"
        assert (await other).status_code == 202
    assert await _parts(gateway, message_id) == [0, 1]
    await esme.close()


async def test_bind_flood_on_one_connection_is_refused_not_queued(gateway: Gateway) -> None:
    esme = await TestEsme.connect(gateway.smpp_port, raw=True)
    for _ in range(200):
        esme.send(BindTransmitter(system_id="demo", password="wrongpw"))
    await asyncio.sleep(0.3)
    assert gateway.smpp_server is not None
    (conn,) = gateway.smpp_server.connections
    assert len(conn._tasks) <= 2
    refused = 0
    while refused < 199:
        pdu = await esme.read(timeout=5)
        assert pdu is not None
        refused += pdu.command_status == CommandStatus.ESME_RBINDFAIL
    await esme.close()


async def test_parts_sent_at_once_are_each_counted_once_against_the_account(
    gateway: Gateway,
) -> None:
    """Every part of a long message is admitted as a message of its own with the message's
    id. Keyed by the id alone, a second part admitted before the first settled replaced its
    count, which then stayed "in flight" for good and used up the daily quota and spend cap."""
    esme = await _esme(gateway)
    sent = [
        esme.send(submit(_udh(21, 4, seq) + b"part %d " % seq, esm_class=0x40))
        for seq in (1, 2, 3, 4)
    ]
    for pdu in sent:
        answer = await esme.wait_for(lambda p, pdu=pdu: p.sequence_number == pdu.sequence_number)
        assert answer.command_status == 0
    policy = gateway.intake._policy
    assert policy is not None
    assert policy._inflight == {}
    await esme.close()
