"""Receipts as carriers write them, encoded by another codec (smpplib), read by ours.

Each variant is one a real SMSC sends: Appendix B text with fields left out or in another
order, the id only in the receipted_message_id TLV or only in the text, intermediate
notifications. The PDU bytes come from smpplib, so our decoder is checked too.
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway.smpp.pdu import DeliverSm, decode
from gateway.smpp.receipt import (
    MessageState,
    ReceiptParseError,
    is_delivery_receipt,
    is_intermediate_notification,
    parse_receipt,
)
from tests.interop.independent_smsc import _SequenceSource, make_pdu


def _theirs(text: bytes, esm_class: int = 0x04, **tlvs: Any) -> DeliverSm:
    data = make_pdu(
        "deliver_sm",
        _SequenceSource(),
        sequence=7,
        source_addr="4915112345678",
        destination_addr="Acme",
        esm_class=esm_class,
        short_message=text,
        **tlvs,
    )
    pdu = decode(data)
    assert isinstance(pdu, DeliverSm)
    return pdu


FULL = b"id:2684354560 sub:001 dlvrd:001 submit date:2311251012 done date:2311251013 stat:DELIVRD err:000 text:hello"


@pytest.mark.parametrize(
    ("text", "tlvs", "message_id", "state", "error"),
    [
        (FULL, {}, "2684354560", MessageState.DELIVERED, "000"),
        (  # no sub:, dlvrd:, text:
            b"id:77 submit date:2311251012 done date:2311251013 stat:UNDELIV err:034",
            {},
            "77",
            MessageState.UNDELIVERABLE,
            "034",
        ),
        (  # fields in another order, text first
            b"text:hello there stat:EXPIRED err:012 id:78 done date:2311251013 sub:001",
            {},
            "78",
            MessageState.EXPIRED,
            "012",
        ),
        (  # the id only in the TLV; the state only in the TLV
            b"sub:001 dlvrd:000 submit date:2311251012 done date:2311251013 err:000 text:x",
            {"receipted_message_id": "a0000000", "message_state": 5},
            "a0000000",
            MessageState.UNDELIVERABLE,
            "000",
        ),
        (b"ID:79 STAT:rejectd", {}, "79", MessageState.REJECTED, "000"),  # case and brevity
        (  # TLV and text disagree on the form: the TLV wins
            b"id:2684354560 stat:DELIVRD err:000",
            {"receipted_message_id": "A0000000", "message_state": 2},
            "A0000000",
            MessageState.DELIVERED,
            "000",
        ),
    ],
    ids=["full", "no-sub-dlvrd-text", "reordered", "id-only-in-tlv", "short", "tlv-wins"],
)
def test_carrier_receipt_variants_parse(
    text: bytes, tlvs: dict[str, Any], message_id: str, state: MessageState, error: str
) -> None:
    pdu = _theirs(text, **tlvs)
    assert is_delivery_receipt(pdu.esm_class)
    receipt = parse_receipt(pdu)
    assert (receipt.message_id, receipt.state, receipt.error_code) == (message_id, state, error)


def test_text_keeps_dates_and_counts_when_present() -> None:
    receipt = parse_receipt(_theirs(FULL))
    assert (receipt.submitted, receipt.delivered, receipt.text) == (1, 1, "hello")
    assert receipt.done_date is not None and receipt.done_date.minute == 13


def test_intermediate_notification_is_recognised_and_parsed() -> None:
    pdu = _theirs(b"id:80 stat:ENROUTE err:000", esm_class=0x20)
    assert is_intermediate_notification(pdu.esm_class) and not is_delivery_receipt(pdu.esm_class)
    assert parse_receipt(pdu).state is MessageState.ENROUTE


@pytest.mark.parametrize(
    "text",
    [b"sub:001 dlvrd:001 stat:DELIVRD err:000", b"id:81 sub:001 err:000 text:no state", b""],
    ids=["no-id", "no-state", "empty"],
)
def test_receipt_without_id_or_state_is_a_clear_error(text: bytes) -> None:
    with pytest.raises(ReceiptParseError):
        parse_receipt(_theirs(text))
