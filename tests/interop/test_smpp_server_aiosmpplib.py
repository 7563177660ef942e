"""aiosmpplib, an independent asyncio ESME library, against our SMPP server in a running gateway.

How aiosmpplib 0.7.4 sends a long text (`ESME._dequeue_messages`, `SubmitSm.pdu`):

- by default (`auto_message_payload=True`) it never splits: a text over 254 octets goes whole
  in the message_payload TLV, a shorter one whole in short_message, even past 160 septets;
- with esm_class UDHI and `auto_message_payload=False` it splits with a concatenation UDH
  (IEI 0x00, 8-bit reference; 153 septets or 67 UTF-16 code units a part) and leaves the SAR
  TLVs out;
- with `auto_message_payload=False` and no UDHI it means to split into parts of 254 octets
  with SAR TLVs, but in 0.7.4 that path raises UnboundLocalError (esme.py line 465 reads
  `encoding`, which only the UDHI branch assigns) and the ESME's loop dies. The SAR test
  therefore builds the very PDUs that path would send, with aiosmpplib's own `split_sms`.

One aiosmpplib ESME binds in one mode, so the transmitter/receiver test runs two, sharing one
correlator and sequence generator (its extension points) so that aiosmpplib can match receipts
on the receiver to submits made on the transmitter.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
import pytest
from aiosmpplib import (
    NPI,
    TON,
    BindMode,
    DeliverSm,
    OptionalParam,
    PhoneNumber,
    SmppCommand,
    SmppCommandStatus,
    SubmitSm,
)
from aiosmpplib.correlator import SimpleCorrelator
from aiosmpplib.sequence import SimpleSequenceGenerator
from aiosmpplib.state import SAR_MSG_REF_NUM, SAR_SEGMENT_SEQNUM, SAR_TOTAL_SEGMENTS
from aiosmpplib.utils import split_sms

from gateway.app import Gateway
from tests.interop.aiosmpplib_esme import (
    PduLog,
    RunningEsme,
    eventually,
    receipted_message_id,
    running_esme,
)

WAIT = 5.0  # seconds for all receipts of a test; the simulator answers after 10 ms
ESM_CLASS_UDHI = 0x40
ESM_CLASS_TYPE = 0x3C  # SMPP 3.4 §5.2.12: bits 5-2, message type
ESM_CLASS_RECEIPT = 0x04  # SMSC delivery receipt


def _submit(text: str, log_id: str, **fields: Any) -> SubmitSm:
    # registered_delivery defaults to 1 (a receipt for success and failure) in aiosmpplib.
    return SubmitSm(
        short_message=text,
        source=PhoneNumber("Acme", TON.ALPHANUMERIC),
        destination=PhoneNumber("4915112345678", TON.INTERNATIONAL, NPI.ISDN),
        log_id=log_id,
        **fields,
    )


def _split_with_udh(text: str, log_id: str) -> SubmitSm:
    """aiosmpplib splits by itself, with a UDH, only when told both of these."""
    return _submit(text, log_id, esm_class=ESM_CLASS_UDHI, auto_message_payload=False)


def _gateway_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    """ERROR records from the gateway (aiosmpplib's own log is kept apart)."""
    return [
        f"{r.name}: {r.getMessage()}" + (f" ({r.exc_info[1]!r})" if r.exc_info else "")
        for r in caplog.records
        if r.levelno >= logging.ERROR
    ]


async def _until_receipted(sender: RunningEsme, receiver: RunningEsme, submits: int) -> None:
    """Wait (bounded) until `submits` submit_sm have answers and every id its receipt."""

    def done() -> bool:
        ids = {r.message_id for r in sender.log.submit_responses()}
        answered = len(sender.log.of(SmppCommand.SUBMIT_SM_RESP)) >= submits
        return answered and ids <= receiver.log.receipted_ids()

    await eventually(lambda: done() or sender.task.done() or receiver.task.done(), WAIT)
    sender.check_alive()  # what stopped aiosmpplib, if anything did
    receiver.check_alive()


def _assert_every_id_receipted(sender: PduLog, receiver: PduLog, submits: int) -> None:
    answers = sender.of(SmppCommand.SUBMIT_SM_RESP)
    assert len(answers) == submits, f"{len(answers)} submit_sm_resp for {submits} submit_sm"
    refused = [(a.command_status.name, a.pdu.hex()) for a in answers if a.command_status != 0]
    assert not refused, f"submit_sm refused: {refused}"
    ids = [r.message_id for r in sender.submit_responses()]
    assert all(ids) and len(set(ids)) == submits, f"message ids not unique: {ids}"
    by_id: dict[str, DeliverSm] = {}
    for receipt in receiver.receipts():
        assert receipt.esm_class & ESM_CLASS_TYPE == ESM_CLASS_RECEIPT
        fields = receipt.parse_receipt()  # aiosmpplib reads the text's fields first
        assert fields["id"] == receipted_message_id(receipt), receipt.short_message
        assert fields["stat"] == "DELIVRD", receipt.short_message
        by_id[str(fields["id"])] = receipt
    missing = set(ids) - set(by_id)
    assert not missing, f"no receipt for {sorted(missing)}; receipts for {sorted(by_id)}"
    assert set(by_id) == set(ids)


async def _api_message(gateway: Gateway, public_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{gateway.http_port}",
        headers={"Authorization": f"Bearer {gateway.demo_key}"},
        timeout=5,
    ) as api:
        response = await api.get(f"/v1/messages/{public_id.partition('-')[0]}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


async def _api_delivered(gateway: Gateway, public_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    body = await _api_message(gateway, public_id)
    while body["status"] != "delivered" and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        body = await _api_message(gateway, public_id)
    return body


async def test_transceiver_gets_a_delivrd_receipt_for_every_submit_response(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    short = _submit("Hello from aiosmpplib", "short")
    payload = _submit("A long text that aiosmpplib sends whole. " * 8, "payload")  # 328 > 254
    udh = _split_with_udh("A long text that aiosmpplib splits itself. " * 5, "udh")  # 215 > 160

    async with running_esme(gateway.smpp_port, BindMode.TRANSCEIVER) as esme:
        await esme.submit(short, payload, udh)
        await _until_receipted(esme, esme, submits=4)
    log = esme.log

    # What aiosmpplib put on the wire: the short text as is, the long one in message_payload,
    # the split one as two parts with a concatenation UDH and no SAR TLVs.
    sent = [m for m, _ in log.sent_submits()]
    assert [bool(m.message_payload) for m in sent] == [False, True, False, False]
    assert [m.esm_class & ESM_CLASS_UDHI for m in sent] == [0, 0, ESM_CLASS_UDHI, ESM_CLASS_UDHI]
    assert [m.get_segmentation_data()[1:] for m in sent[2:]] == [(1, 2), (2, 2)]  # from the UDH
    assert all(m.registered_delivery == 1 for m in sent)

    _assert_every_id_receipted(log, log, submits=4)
    # aiosmpplib's own correlation took our receipts: one per message, after all its parts.
    assert sorted(r.log_id for r in log.passed_receipts()) == ["payload", "short", "udh"]
    assert log.sent_count(SmppCommand.DELIVER_SM_RESP) == len(log.of(SmppCommand.DELIVER_SM))
    assert not esme.aiosmpplib_log.at_least(logging.WARNING)
    assert not log.send_errors
    assert not _gateway_errors(caplog)
    # The text in message_payload is one message of three segments, with one receipt.
    payload_answer = log.answers()[1][1]
    assert payload_answer is not None
    body = await _api_delivered(gateway, payload_answer.message_id)
    assert (body["status"], body["segments"]) == ("delivered", 3)


async def test_receipts_for_submits_on_a_transmitter_go_to_the_receiver(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    # One correlator and one sequence generator for both binds: aiosmpplib's correlator keys
    # requests by sequence number, and matches a receipt to its submit by our message id.
    correlator, sequence = SimpleCorrelator("demo"), SimpleSequenceGenerator()
    async with (
        running_esme(
            gateway.smpp_port, BindMode.RECEIVER, correlator=correlator, sequence_generator=sequence
        ) as receiver,
        running_esme(
            gateway.smpp_port,
            BindMode.TRANSMITTER,
            correlator=correlator,
            sequence_generator=sequence,
        ) as transmitter,
    ):
        await transmitter.submit(
            _submit("Hello from a transmitter", "short"),
            _split_with_udh("Split by aiosmpplib, receipted on the receiver. " * 5, "udh"),
        )
        await _until_receipted(transmitter, receiver, submits=3)

    _assert_every_id_receipted(transmitter.log, receiver.log, submits=3)
    assert not transmitter.log.of(SmppCommand.DELIVER_SM), "a receipt went to the transmitter"
    assert not receiver.log.of(SmppCommand.SUBMIT_SM_RESP)
    assert receiver.log.sent_count(SmppCommand.DELIVER_SM_RESP) == len(
        receiver.log.of(SmppCommand.DELIVER_SM)
    )
    assert sorted(r.log_id for r in receiver.log.passed_receipts()) == ["short", "udh"]
    for esme in (receiver, transmitter):
        assert not esme.aiosmpplib_log.at_least(logging.WARNING)
    assert not _gateway_errors(caplog)


async def test_ucs2_texts_are_stored_as_ucs2_and_delivered(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    texts = {
        "short": _submit("مرحبا بالعالم 😀", "short"),  # 16 UTF-16 code units
        "udh": _split_with_udh("مرحبا 😀 " * 12, "udh"),  # 108 code units: 2 parts of <= 67
        "payload": _submit("مرحبا 😀 " * 20, "payload"),  # 360 octets: message_payload
    }
    async with running_esme(gateway.smpp_port, BindMode.TRANSCEIVER) as esme:
        await esme.submit(*texts.values())
        await _until_receipted(esme, esme, submits=4)
    log = esme.log

    # aiosmpplib chose UCS-2 (data_coding 8) for each PDU by itself.
    sent = log.sent_submits()
    assert all(m.encoding == "ucs2" for m, _ in sent), [pdu.hex() for _, pdu in sent]
    _assert_every_id_receipted(log, log, submits=4)
    answers = log.answers()  # short, udh part 1, udh part 2, payload
    expected_segments = {"short": 1, "udh": 2, "payload": 3}
    for (name, segments), (_, answer) in zip(
        expected_segments.items(), [answers[0], answers[1], answers[3]], strict=True
    ):
        assert answer is not None
        body = await _api_delivered(gateway, answer.message_id)
        assert (body["encoding"], body["status"], body["segments"]) == (
            "ucs2",
            "delivered",
            segments,
        ), (name, body)
    assert not _gateway_errors(caplog)


async def test_sar_split_into_254_octet_parts_is_delivered_not_stuck(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    """aiosmpplib's SAR split: parts of 254 octets (its MAX_SM_SIZE) with SAR TLVs.

    A part that full is valid SMPP (short_message holds up to 254 octets) but cannot travel as
    one concatenated SMS part: the gateway must either send it on or refuse it in its
    submit_sm_resp (ESME_RINVMSGLEN), never acknowledge it and then lose it.
    """
    text = "SAR split by aiosmpplib. " * 13  # 325 septets
    parts = split_sms(text, "gsm0338")
    assert [len(p) for p in parts] == [254, 71]
    messages = []
    for seq, encoded in enumerate(parts, 1):
        message = _submit(
            text,  # each part keeps the whole text here, as in aiosmpplib's SubmitSm.clone()
            f"sar-{seq}",
            optional_params=[
                OptionalParam(SAR_MSG_REF_NUM, 7),
                OptionalParam(SAR_SEGMENT_SEQNUM, seq),
                OptionalParam(SAR_TOTAL_SEGMENTS, len(parts)),
            ],
        )
        message.set_encoded_message(encoded)  # as ESME._dequeue_messages does for each part
        messages.append(message)

    async with running_esme(gateway.smpp_port, BindMode.TRANSCEIVER) as esme:
        await esme.submit(*messages)
        await _until_receipted(esme, esme, submits=2)
    log = esme.log

    statuses = {a.command_status for a in log.of(SmppCommand.SUBMIT_SM_RESP)}
    if statuses == {SmppCommandStatus.ESME_RINVMSGLEN}:
        return  # refused up front: correct too
    assert statuses == {SmppCommandStatus.ESME_ROK}, [a.pdu.hex() for a in log.inbound]
    ids = {r.message_id for r in log.submit_responses()}
    body = await _api_message(gateway, next(iter(ids)))
    evidence = (
        f"submit_sm part 1: {log.sent_submits()[0][1].hex()}\n"
        f"message: {body}\ngateway errors: {_gateway_errors(caplog)[:2]}"
    )
    assert ids <= log.receipted_ids(), evidence
    _assert_every_id_receipted(log, log, submits=2)
    assert not _gateway_errors(caplog)
