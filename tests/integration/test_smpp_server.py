"""Our SMPP server under awkward and hostile ESMEs: wrong states, bad frames, floods, receivers
that vanish. The gateway must answer correctly, never crash, and never lose a receipt."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import struct
import time
from datetime import datetime, timedelta
from datetime import time as dt_time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from gateway.app import Gateway
from gateway.domain import SmppCredential
from gateway.domain.optout import OptOutSettings, QuietHours
from gateway.passwords import hash_password
from gateway.smpp.codes import CommandId, CommandStatus
from gateway.smpp.fields import DestAddress
from gateway.smpp.pdu import (
    CancelSm,
    CancelSmResp,
    DeliverSm,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    QuerySm,
    QuerySmResp,
    ReplaceSm,
    ReplaceSmResp,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSmResp,
    Unbind,
    UnbindResp,
    encode,
)
from gateway.smpp.receipt import MessageState
from gateway.smpp.tlv import Tlv
from gateway.smpp_server.mapping import format_smpp_time
from gateway.store.sqlite import SqliteStore
from tests.conftest import DEMO_SMPP_PASSWORD
from tests.esme_client import DEST, TestEsme, submit

PW = DEMO_SMPP_PASSWORD


async def _esme(gateway: Gateway, kind: str = "trx", *, raw: bool = False) -> TestEsme:
    esme = await TestEsme.connect(gateway.smpp_port, raw=raw)
    assert await esme.bind(kind, password=PW) == CommandStatus.ESME_ROK
    return esme


async def _still_serving(gateway: Gateway) -> None:
    esme = await _esme(gateway)
    response = await esme.request(submit(b"still here"))
    assert response.command_status == CommandStatus.ESME_ROK
    await esme.close()


async def test_submit_before_bind_is_refused_and_the_bind_still_works(gateway: Gateway) -> None:
    esme = await TestEsme.connect(gateway.smpp_port, raw=True)
    response = await esme.request(submit())
    assert isinstance(response, SubmitSmResp)
    assert response.command_status == CommandStatus.ESME_RINVBNDSTS
    assert await esme.bind("trx", password=PW) == CommandStatus.ESME_ROK
    assert (await esme.request(EnquireLink())).command_status == 0
    await esme.close()


async def test_unknown_command_gets_generic_nack(gateway: Gateway) -> None:
    esme = await _esme(gateway, raw=True)
    esme.send_raw(struct.pack(">IIII", 16, 0x00000077, 0, 4242))
    nack = await esme.wait_for(lambda p: p.sequence_number == 4242)
    assert isinstance(nack, GenericNack)
    assert nack.command_status == CommandStatus.ESME_RINVCMDID
    assert (await esme.request(EnquireLink())).command_status == 0  # the bind goes on
    await esme.close()


@pytest.mark.parametrize("length", [8, 15, 10_000_000])
async def test_impossible_command_length_closes_the_connection_only(
    gateway: Gateway, length: int
) -> None:
    esme = await _esme(gateway, raw=True)
    esme.send_raw(struct.pack(">IIII", length, CommandId.SUBMIT_SM, 0, 7) + b"\x00" * 16)
    while (pdu := await esme.read(timeout=5)) is not None:
        assert isinstance(pdu, GenericNack)
        assert pdu.command_status == CommandStatus.ESME_RINVCMDLEN
    await esme.close()
    await _still_serving(gateway)


async def test_malformed_submit_body_gets_an_error_response(gateway: Gateway) -> None:
    esme = await _esme(gateway, raw=True)
    frame = bytearray(encode(submit(b"x", sequence_number=99)))
    body = frame[16:].replace(b"Acme\x00", b"Acme" + b"A" * 40 + b"\x00", 1)  # too long
    esme.send_raw(struct.pack(">IIII", 16 + len(body), CommandId.SUBMIT_SM, 0, 99) + body)
    response = await esme.wait_for(lambda p: p.sequence_number == 99)
    assert response.command_status != CommandStatus.ESME_ROK
    await esme.close()
    await _still_serving(gateway)


async def test_random_garbage_never_hurts_the_server(gateway: Gateway) -> None:
    import random

    rng = random.Random(7)
    for _ in range(20):
        esme = await TestEsme.connect(gateway.smpp_port)
        esme.send_raw(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400))))
        await asyncio.sleep(0.01)
        await esme.close()
    await _still_serving(gateway)


async def test_flood_beyond_the_window_is_throttled_not_buffered(gateway: Gateway) -> None:
    esme = await _esme(gateway)
    window = gateway.settings.smpp_window
    count = window + 60
    sent = [esme.send(submit(b"flood", receipt=0)) for _ in range(count)]
    statuses = {}
    deadline = time.monotonic() + 20
    while len(statuses) < count and time.monotonic() < deadline:
        pdu = await esme.read()
        if isinstance(pdu, SubmitSmResp):
            statuses[pdu.sequence_number] = pdu.command_status
    assert set(statuses) == {p.sequence_number for p in sent}  # one answer each
    assert set(statuses.values()) <= {CommandStatus.ESME_ROK, CommandStatus.ESME_RTHROTTLED}
    assert list(statuses.values()).count(CommandStatus.ESME_ROK) >= window
    await esme.close()


async def test_account_rate_limit_answers_throttled(gateway: Gateway) -> None:
    assert gateway.store is not None
    account = await gateway.store.get_account_by_name("demo")
    assert account is not None
    await gateway.store.add_smpp_credential(
        SmppCredential("slow", account.id, hash_password("pw"), throughput=5.0), now=time.time()
    )
    esme = await TestEsme.connect(gateway.smpp_port)
    assert await esme.bind("tx", system_id="slow", password="pw") == 0
    sent = {esme.send(submit(receipt=0)).sequence_number for _ in range(20)}
    statuses = [
        (await esme.wait_for(lambda p, s=s: p.sequence_number == s)).command_status for s in sent
    ]
    assert CommandStatus.ESME_RTHROTTLED in statuses
    assert 1 <= statuses.count(CommandStatus.ESME_ROK) <= 6
    await esme.close()


async def test_bind_limit_and_allowed_networks(gateway: Gateway) -> None:
    assert gateway.store is not None
    account = await gateway.store.get_account_by_name("demo")
    assert account is not None
    await gateway.store.add_smpp_credential(
        SmppCredential("one", account.id, hash_password("pw"), max_binds=1), now=time.time()
    )
    await gateway.store.add_smpp_credential(
        SmppCredential("far", account.id, hash_password("pw"), ("10.0.0.0/8",)), now=time.time()
    )
    first = await TestEsme.connect(gateway.smpp_port)
    assert await first.bind("tx", system_id="one", password="pw") == 0
    second = await TestEsme.connect(gateway.smpp_port)
    assert await second.bind("tx", system_id="one", password="pw") == CommandStatus.ESME_RBINDFAIL
    third = await TestEsme.connect(gateway.smpp_port)
    assert await third.bind("tx", system_id="far", password="pw") == CommandStatus.ESME_RBINDFAIL
    for esme in (first, second, third):
        await esme.close()


async def test_receipts_go_to_the_receiver_bind(gateway: Gateway) -> None:
    tx = await _esme(gateway, "tx")
    rx = await _esme(gateway, "rx")
    ids = {(await tx.request(submit(f"m{i}".encode()))).message_id for i in range(5)}
    got = set()
    deadline = time.monotonic() + 10
    while got != ids and time.monotonic() < deadline:
        pdu = await rx.read()
        if isinstance(pdu, DeliverSm):
            got.add(pdu.tlvs[Tlv.RECEIPTED_MESSAGE_ID])
            assert pdu.tlvs[Tlv.MESSAGE_STATE] == MessageState.DELIVERED
    assert got == ids
    await tx.close()
    await rx.close()


async def test_receipts_survive_a_receiver_that_dies_mid_stream(gateway: Gateway) -> None:
    """Receipts not acknowledged by a receiver that vanished come again after it rebinds."""
    tx = await _esme(gateway, "tx")
    rx = await _esme(gateway, "rx")
    rx.auto_ack = False  # it takes receipts but dies before acknowledging them
    ids = {(await tx.request(submit(f"n{i}".encode()))).message_id for i in range(30)}
    seen_before_death = 0
    while seen_before_death < 10:
        if isinstance(await rx.read(), DeliverSm):
            seen_before_death += 1
    rx.writer.transport.abort()  # type: ignore[attr-defined]
    # More receipts are produced while no receiver is bound: they wait in the store.
    ids |= {(await tx.request(submit(f"late{i}".encode()))).message_id for i in range(10)}
    await asyncio.sleep(0.3)
    rx2 = await _esme(gateway, "rx")
    got: set[object] = set()
    deadline = time.monotonic() + 15
    while not ids <= got and time.monotonic() < deadline:
        pdu = await rx2.read()
        if isinstance(pdu, DeliverSm):
            got.add(pdu.tlvs[Tlv.RECEIPTED_MESSAGE_ID])
    assert ids <= got
    await tx.close()
    await rx2.close()


async def test_query_cancel_and_replace_work_on_the_store(gateway: Gateway) -> None:
    esme = await _esme(gateway)
    delivered = (await esme.request(submit(b"soon"))).message_id
    later = (
        await esme.request(submit(b"tomorrow", schedule_delivery_time="000001000000000R"))
    ).message_id
    await asyncio.sleep(0.5)
    query = await esme.request(QuerySm(message_id=delivered, source_addr="Acme"))
    assert isinstance(query, QuerySmResp)
    assert query.message_state == MessageState.DELIVERED and query.final_date
    query = await esme.request(QuerySm(message_id=later, source_addr="Acme"))
    assert query.message_state == MessageState.ENROUTE and not query.final_date

    replaced = await esme.request(
        ReplaceSm(message_id=later, source_addr="Acme", short_message=b"changed")
    )
    assert isinstance(replaced, ReplaceSmResp) and replaced.command_status == 0
    refused = await esme.request(
        ReplaceSm(message_id=delivered, source_addr="Acme", short_message=b"too late")
    )
    assert refused.command_status == CommandStatus.ESME_RREPLACEFAIL

    cancel = await esme.request(
        CancelSm(message_id=later, source_addr="Acme", destination_addr="4915112345678")
    )
    assert isinstance(cancel, CancelSmResp) and cancel.command_status == 0
    assert gateway.store is not None
    account = await gateway.store.get_account_by_name("demo")
    assert account is not None
    record = await gateway.store.get_message(account_id=account.id, message_id=later)
    assert record is not None and record.status.value == "cancelled"
    cancel = await esme.request(CancelSm(message_id=delivered, source_addr="Acme"))
    assert cancel.command_status == CommandStatus.ESME_RCANCELFAIL
    unknown = await esme.request(QuerySm(message_id="01ZZZZZZZZZZZZZZZZZZZZZZZZ"))
    assert unknown.command_status == CommandStatus.ESME_RINVMSGID
    await esme.close()


async def test_replace_is_held_to_the_submit_rules(gateway: Gateway) -> None:
    """replace_sm's new text must fit the one segment the message was routed and priced as;
    its source_addr, when given, must be the original's; and a new schedule is judged by the
    recipient's quiet hours, as at intake. A refused replace changes nothing."""
    assert gateway.store is not None
    account = await gateway.store.get_account_by_name("demo")
    assert account is not None
    quiet = QuietHours(enabled=True, start=21 * 60, end=8 * 60)  # promotional only
    await gateway.store.put_optout_settings(
        account_id=account.id, settings=OptOutSettings(quiet_hours=quiet), now=time.time()
    )
    new_york = ZoneInfo("America/New_York")
    day = datetime.now(new_york).date() + timedelta(days=2)
    noon = datetime.combine(day, dt_time(12), new_york).timestamp()
    late = datetime.combine(day, dt_time(23), new_york).timestamp()
    morning = datetime.combine(day + timedelta(days=1), dt_time(8), new_york).timestamp()

    esme = await _esme(gateway)
    sent = await esme.request(
        submit(
            b"sale at noon",
            service_type="PROMO",
            destination_addr="12125551234",
            source_addr="14155550100",  # the US takes no alphanumeric sender
            source_addr_ton=1,
            schedule_delivery_time=format_smpp_time(noon),
        )
    )
    assert sent.command_status == CommandStatus.ESME_ROK

    async def stored() -> tuple[str, float | None]:
        """The text as it will go upstream (the part's payload), and when."""
        assert isinstance(gateway.store, SqliteStore) and account is not None
        record = await gateway.store.get_message(account_id=account.id, message_id=message_id)
        assert record is not None
        with contextlib.closing(sqlite3.connect(gateway.store.path)) as db:
            body, payload = db.execute(
                "SELECT m.body, p.payload FROM messages m JOIN parts p ON p.message_id = m.id"
                " WHERE m.id = ?",
                (message_id,),
            ).fetchone()
        assert payload.decode() == body  # GSM 7-bit, unpacked: one octet per character here
        return body, record.send_at

    message_id, ours = sent.message_id, "14155550100"
    assert await stored() == ("sale at noon", noon)

    too_long = await esme.request(
        ReplaceSm(message_id=message_id, source_addr=ours, short_message=b"x" * 161)
    )
    assert too_long.command_status == CommandStatus.ESME_RINVMSGLEN
    other_source = await esme.request(
        ReplaceSm(message_id=message_id, source_addr="14155550199", short_message=b"mine now")
    )
    assert other_source.command_status == CommandStatus.ESME_RREPLACEFAIL
    assert await stored() == ("sale at noon", noon)

    to_late = await esme.request(
        ReplaceSm(
            message_id=message_id,
            source_addr="+14155550100",  # TON unknown, "+": the same number
            short_message=b"sale at night",
            schedule_delivery_time=format_smpp_time(late),
        )
    )
    assert to_late.command_status == CommandStatus.ESME_ROK
    assert await stored() == ("sale at night", morning)  # held until the window ends
    fits = await esme.request(ReplaceSm(message_id=message_id, short_message=b"x" * 160))
    assert fits.command_status == CommandStatus.ESME_ROK  # no source_addr: not checked
    assert await stored() == ("x" * 160, morning)  # no schedule: the one it had
    await esme.close()


async def test_a_ucs2_part_one_octet_over_its_segment_is_refused(gateway: Gateway) -> None:
    """Part 1 of 2 in UCS2 with a 6-octet UDH holds 134 octets; 135 (an odd, malformed length)
    used to count as 67 units and go upstream one octet over what a segment carries."""
    esme = await _esme(gateway)
    udh = bytes([5, 0, 3, 0x42, 2, 1])
    over = await esme.request(submit(udh + b"\x00a" * 67 + b"\x00", esm_class=0x40, data_coding=8))
    assert over.command_status == CommandStatus.ESME_RINVMSGLEN
    udh = bytes([5, 0, 3, 0x43, 2, 1])
    fits = await esme.request(submit(udh + b"\x00a" * 67, esm_class=0x40, data_coding=8))
    assert fits.command_status == CommandStatus.ESME_ROK
    await esme.close()


async def test_cancel_without_a_message_id_cancels_what_matches(gateway: Gateway) -> None:
    """SMPP 3.4 §4.9: cancel_sm with no message_id cancels the ESME's messages to its
    destination_addr from its source_addr (and of its service_type, when given) that are not
    sent yet; nothing else."""
    assert gateway.store is not None
    account = await gateway.store.get_account_by_name("demo")
    assert account is not None
    esme = await _esme(gateway)
    later = "000001000000000R"  # tomorrow: scheduled, cancellable
    other = "4915112345679"

    async def sent(text: bytes, **fields: object) -> str:
        response = await esme.request(submit(text, **fields))
        assert response.command_status == CommandStatus.ESME_ROK
        return str(response.message_id)

    soon = await sent(b"now")
    await asyncio.sleep(0.5)  # delivered by the simulator
    plain = [await sent(b"later", schedule_delivery_time=later) for _ in range(3)]
    promo = await sent(b"sale", schedule_delivery_time=later, service_type="PROMO")
    elsewhere = await sent(b"later", schedule_delivery_time=later, destination_addr=other)

    async def statuses() -> dict[str, str]:
        assert gateway.store is not None and account is not None
        found = {}
        for message_id in (soon, *plain, promo, elsewhere):
            record = await gateway.store.get_message(account_id=account.id, message_id=message_id)
            assert record is not None
            found[message_id] = record.status.value
        return found

    def cancel(**fields: object) -> CancelSm:
        return CancelSm(**{"source_addr_ton": 5, "source_addr": "Acme", "dest_addr_ton": 1,
                           "destination_addr": DEST, **fields})  # type: ignore[arg-type]  # fmt: skip

    wrong_source = await esme.request(cancel(source_addr="Other"))
    assert wrong_source.command_status == CommandStatus.ESME_RCANCELFAIL
    assert "cancelled" not in (await statuses()).values()

    only_promo = await esme.request(cancel(service_type="PROMO"))
    assert only_promo.command_status == CommandStatus.ESME_ROK
    assert (await statuses())[promo] == "cancelled"
    assert {(await statuses())[m] for m in plain} == {"scheduled"}

    rest = await esme.request(cancel())
    assert rest.command_status == CommandStatus.ESME_ROK
    now = await statuses()
    assert {now[m] for m in plain} == {"cancelled"}
    assert now[soon] == "delivered" and now[elsewhere] == "scheduled"
    nothing_left = await esme.request(cancel())
    assert nothing_left.command_status == CommandStatus.ESME_RCANCELFAIL
    await esme.close()


async def test_submit_multi_commits_each_destination_and_lists_the_ones_refused(
    gateway: Gateway,
) -> None:
    """SMPP 3.4 §4.5: one message per destination through the same intake as submit_sm; the
    answer carries the first message's id and, per destination refused, its error status."""
    esme = await _esme(gateway)
    response = await esme.request(
        SubmitMulti(
            source_addr_ton=5,
            source_addr="Acme",
            dest_addresses=(
                DestAddress(1, 1, "4915112345678"),
                DestAddress(1, 1, "12"),  # not a number anywhere
                DestAddress.distribution_list("friends"),
                DestAddress(1, 1, "4915112345679"),
            ),
            registered_delivery=1,
            short_message=b"to several",
        )
    )
    assert isinstance(response, SubmitMultiResp) and response.command_status == 0
    refused = {(u.destination_addr, u.error_status_code) for u in response.unsuccess_sme}
    assert refused == {
        ("12", CommandStatus.ESME_RINVDSTADR),
        ("friends", CommandStatus.ESME_RINVDLNAME),
    }
    assert gateway.store is not None
    account = await gateway.store.get_account_by_name("demo")
    assert account is not None
    first = await gateway.store.get_message(account_id=account.id, message_id=response.message_id)
    assert first is not None and first.destination == "+4915112345678"
    receipts = [await esme.wait_for(lambda p: isinstance(p, DeliverSm)) for _ in range(2)]
    assert all(r.esm_class & 0x04 for r in receipts)  # both sent ones come back as receipts

    assert gateway.smpp_server is not None
    gateway.smpp_server.accepting = False  # draining: refused before any work
    refused_all = await esme.request(
        SubmitMulti(source_addr="Acme", dest_addresses=(DestAddress(1, 1, "4915112345678"),))
    )
    assert refused_all.command_status == CommandStatus.ESME_RX_T_APPN
    await esme.close()


async def test_submit_multi_lists_a_destination_that_failed_unexpectedly_and_keeps_the_rest(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected failure on one destination must not fail the whole PDU: the ones before
    it are committed, and an ESME retrying the PDU would send them twice."""
    server = gateway.smpp_server
    assert server is not None
    commit = server._commit

    async def failing_for_the_second(built: Any) -> None:
        if built.message is not None and built.message.destination.endswith("79"):
            raise RuntimeError("injected")
        await commit(built)

    monkeypatch.setattr(server, "_commit", failing_for_the_second)
    esme = await _esme(gateway)
    response = await esme.request(
        SubmitMulti(
            source_addr_ton=5,
            source_addr="Acme",
            dest_addresses=(
                DestAddress(1, 1, "4915112345678"),
                DestAddress(1, 1, "4915112345679"),
                DestAddress(1, 1, "4915112345670"),
            ),
            short_message=b"to several",
        )
    )
    assert isinstance(response, SubmitMultiResp) and response.command_status == 0
    assert [(u.destination_addr, u.error_status_code) for u in response.unsuccess_sme] == [
        ("4915112345679", CommandStatus.ESME_RSYSERR)
    ]
    await esme.close()


async def test_unbind_is_answered_and_closes(gateway: Gateway) -> None:
    esme = await _esme(gateway)
    response = await esme.request(Unbind())
    assert isinstance(response, UnbindResp)
    assert await esme.read(timeout=5) is None


async def test_an_unbind_is_answered_after_the_submits_in_flight(gateway: Gateway) -> None:
    """Submits are answered from their commit's callback, not from a task each: the unbind
    that follows them still waits until every one has its submit_sm_resp."""
    esme = await _esme(gateway)
    sent = [esme.send(submit(f"in flight {i}".encode(), receipt=0)) for i in range(40)]
    unbind = esme.send(Unbind())
    answers = []
    while (pdu := await esme.read(timeout=10)) is not None:
        answers.append(pdu)
    assert sorted(p.sequence_number for p in answers[:-1]) == [p.sequence_number for p in sent]
    assert all(p.command_status == CommandStatus.ESME_ROK for p in answers[:-1])
    assert isinstance(answers[-1], UnbindResp)
    assert answers[-1].sequence_number == unbind.sequence_number


async def test_enquire_link_is_answered(gateway: Gateway) -> None:
    esme = await _esme(gateway, "rx")
    assert isinstance(await esme.request(EnquireLink()), EnquireLinkResp)
    await esme.close()


async def test_shutdown_unbinds_esmes_after_answering_them(gateway: Gateway) -> None:
    esme = await _esme(gateway)
    sent = esme.send(submit(b"last words", receipt=0))
    await asyncio.sleep(0.05)
    stopping = asyncio.create_task(gateway.stop())
    answered = await esme.wait_for(lambda p: p.sequence_number == sent.sequence_number)
    assert answered.command_status == CommandStatus.ESME_ROK
    unbind = await esme.wait_for(lambda p: isinstance(p, Unbind))
    esme.send(UnbindResp(sequence_number=unbind.sequence_number))
    await asyncio.wait_for(stopping, 20)
    await esme.close()


async def test_short_message_longer_than_one_sms_is_split_not_passed_through(
    gateway: Gateway,
) -> None:
    """SMPP allows 254 octets in short_message; a handset network carries 160 septets."""
    esme = await _esme(gateway)
    response = await esme.request(submit(b"x" * 200))
    assert response.command_status == 0
    assert gateway.store is not None
    account = await gateway.store.get_account_by_name("demo")
    assert account is not None
    record = await gateway.store.get_message(account_id=account.id, message_id=response.message_id)
    assert record is not None and record.segments == 2
    await esme.close()


async def test_concatenated_part_too_long_for_a_segment_is_refused_whole(gateway: Gateway) -> None:
    from gateway.smpp.tlv import Tlv

    esme = await _esme(gateway)
    sar = {Tlv.SAR_MSG_REF_NUM: 9, Tlv.SAR_TOTAL_SEGMENTS: 2}
    first = await esme.request(submit(b"a" * 200, tlvs={**sar, Tlv.SAR_SEGMENT_SEQNUM: 1}))
    second = await esme.request(submit(b"b" * 10, tlvs={**sar, Tlv.SAR_SEGMENT_SEQNUM: 2}))
    assert first.command_status == second.command_status == CommandStatus.ESME_RINVMSGLEN
    await esme.close()


async def test_a_later_part_never_overtakes_the_part_that_creates_the_message(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each part is committed once admitted; if the first part's checks take longer (a store
    read for its opt-out list, say), the second must still wait for the message row it joins."""
    assert gateway.intake is not None
    admit = gateway.intake.admit

    async def first_part_slower(message, **kwargs):  # type: ignore[no-untyped-def]
        if not message.continuation:
            await asyncio.sleep(0.3)
        return await admit(message, **kwargs)

    monkeypatch.setattr(gateway.intake, "admit", first_part_slower)
    esme = await _esme(gateway)
    sar = {Tlv.SAR_MSG_REF_NUM: 11, Tlv.SAR_TOTAL_SEGMENTS: 2}
    first = esme.send(submit(b"first half ", tlvs={**sar, Tlv.SAR_SEGMENT_SEQNUM: 1}))
    second = esme.send(submit(b"second half", tlvs={**sar, Tlv.SAR_SEGMENT_SEQNUM: 2}))
    answers = {}
    while len(answers) < 2:
        pdu = await esme.read(timeout=5)
        if isinstance(pdu, SubmitSmResp):
            answers[pdu.sequence_number] = pdu
    assert answers[first.sequence_number].command_status == CommandStatus.ESME_ROK
    assert answers[second.sequence_number].command_status == CommandStatus.ESME_ROK
    await esme.close()


async def test_schedule_and_payload_are_held_to_the_rest_rules(gateway: Gateway) -> None:
    """A schedule_delivery_time already past means now (so quiet hours judge the message by
    the present); one more than 35 days ahead, or a message_payload over the segment limit,
    is refused with its own status instead of being queued."""
    esme = await _esme(gateway)
    past = format_smpp_time(time.time() - 3600)
    response = await esme.request(submit(b"an hour ago", schedule_delivery_time=past))
    assert response.command_status == CommandStatus.ESME_ROK
    assert gateway.store is not None
    account = await gateway.store.get_account_by_name("demo")
    assert account is not None
    record = await gateway.store.get_message(account_id=account.id, message_id=response.message_id)
    assert record is not None and record.send_at is None and record.status.value != "scheduled"

    far = await esme.request(submit(b"later", schedule_delivery_time="000040000000000R"))
    assert far.command_status == CommandStatus.ESME_RINVSCHED
    tomorrow = await esme.request(submit(b"x", schedule_delivery_time="000001000000000R"))
    moved_far = await esme.request(
        ReplaceSm(
            message_id=tomorrow.message_id,
            source_addr="Acme",
            short_message=b"y",
            schedule_delivery_time="000040000000000R",
        )
    )
    assert moved_far.command_status == CommandStatus.ESME_RINVSCHED

    huge = submit(b"", tlvs={Tlv.MESSAGE_PAYLOAD: b"x" * 160 * 25})  # 25+ segments, limit 20
    assert (await esme.request(huge)).command_status == CommandStatus.ESME_RINVMSGLEN
    await esme.close()
