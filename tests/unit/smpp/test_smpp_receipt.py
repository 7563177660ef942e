"""Delivery receipts: Appendix B text and TLVs, formatted and parsed tolerantly."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.smpp.pdu import DataSm, DeliverSm, decode, encode
from gateway.smpp.receipt import (
    MessageState,
    Receipt,
    ReceiptParseError,
    build_receipt_pdu,
    format_receipt_text,
    is_delivery_receipt,
    is_intermediate_notification,
    is_sme_acknowledgement,
    parse_receipt,
)
from gateway.smpp.tlv import NetworkErrorCode, Tlv

RECEIPT = Receipt(
    message_id="0911897980",
    state=MessageState.UNDELIVERABLE,
    error_code="075",
    submitted=1,
    delivered=0,
    submit_date=datetime(2012, 1, 12, 15, 51),
    done_date=datetime(2012, 1, 12, 15, 52),
    text="-PROFILE",
    network_error=None,
)


def _deliver(text: str, **tlvs: object) -> DeliverSm:
    return DeliverSm(
        esm_class=0x04,
        short_message=text.encode("latin-1"),
        tlvs={Tlv[k.upper()]: v for k, v in tlvs.items()},
    )  # type: ignore[misc]


def test_format_matches_appendix_b() -> None:
    assert format_receipt_text(RECEIPT) == (
        b"id:0911897980 sub:001 dlvrd:000 submit date:1201121551 done date:1201121552 "
        b"stat:UNDELIV err:075 text:-PROFILE"
    )


def test_text_is_cut_to_20_characters() -> None:
    text = format_receipt_text(Receipt("1", MessageState.DELIVERED, text="x" * 50))
    assert text.endswith(b"text:" + b"x" * 20)


def test_parse_the_typical_receipt_text() -> None:
    pdu = _deliver(
        "id:0911897980 sub:001 dlvrd:000 submit date:1201121551 done date:1201121552 "
        "stat:UNDELIV err:075 text:-PROFILE"
    )
    assert parse_receipt(pdu) == RECEIPT


@given(
    st.text("0123456789abcdefABCDEF-", min_size=1, max_size=20),
    st.sampled_from(list(MessageState)),
    st.from_regex(r"\A[0-9]{3}\Z"),
    st.none() | st.integers(0, 999),
    st.none() | st.integers(0, 999),
    st.none()
    | st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31)).map(
        lambda d: d.replace(second=0, microsecond=0)
    ),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20).map(str.strip),
    st.none() | st.builds(NetworkErrorCode, st.integers(0, 255), st.integers(0, 65535)),
)
def test_build_and_parse_round_trip(
    message_id: str,
    state: MessageState,
    err: str,
    sub: int | None,
    dlvrd: int | None,
    date: datetime | None,
    text: str,
    network_error: NetworkErrorCode | None,
) -> None:
    receipt = Receipt(message_id, state, err, sub, dlvrd, date, date, text, network_error)
    pdu = build_receipt_pdu(receipt, source_addr="447700900123", destination_addr="ACME")
    assert is_delivery_receipt(pdu.esm_class)
    wire = decode(encode(pdu))
    assert isinstance(wire, DeliverSm)
    assert parse_receipt(wire) == receipt


def test_fields_in_another_order_and_case_without_sub_dlvrd() -> None:
    pdu = _deliver("STAT:DELIVRD ID:ABC123 Err:000 Done Date:2401021530 Text:hello there")
    receipt = parse_receipt(pdu)
    assert receipt.message_id == "ABC123"
    assert receipt.state is MessageState.DELIVERED
    assert receipt.submitted is None and receipt.delivered is None
    assert receipt.done_date == datetime(2024, 1, 2, 15, 30)
    assert receipt.submit_date is None
    assert receipt.text == "hello there"


def test_dates_with_seconds() -> None:
    receipt = parse_receipt(
        _deliver("id:1 submit date:240102153045 done date:240102153107 stat:EXPIRED err:000")
    )
    assert receipt.submit_date == datetime(2024, 1, 2, 15, 30, 45)
    assert receipt.done_date == datetime(2024, 1, 2, 15, 31, 7)
    assert receipt.state is MessageState.EXPIRED
    assert receipt.text == ""


def test_text_before_other_fields_and_containing_key_words() -> None:
    receipt = parse_receipt(_deliver("id:7 text:my id:is here stat:REJECTD err:001"))
    assert receipt.text == "my id:is here"
    assert receipt.message_id == "7"
    assert receipt.state is MessageState.REJECTED


def test_tlv_only_receipt() -> None:
    pdu = DeliverSm(
        esm_class=0x04,
        tlvs={
            Tlv.RECEIPTED_MESSAGE_ID: "ff01",
            Tlv.MESSAGE_STATE: MessageState.DELIVERED,
            Tlv.NETWORK_ERROR_CODE: NetworkErrorCode(3, 34),
        },
    )
    receipt = parse_receipt(pdu)
    assert receipt == Receipt(
        "ff01", MessageState.DELIVERED, "034", network_error=NetworkErrorCode(3, 34)
    )


def test_tlvs_win_over_text_hex_id_vs_decimal_id() -> None:
    # Many SMSCs print the id in decimal in the text while the TLV (like submit_sm_resp) carries
    # the hex form; correlation uses the TLV.
    pdu = _deliver(
        "id:255 sub:001 dlvrd:001 stat:DELIVRD err:000 text:",
        receipted_message_id="000000FF",
        message_state=MessageState.DELIVERED,
    )
    assert parse_receipt(pdu).message_id == "000000FF"


def test_message_state_tlv_wins_over_stat_word() -> None:
    pdu = _deliver("id:1 stat:ENROUTE err:000", message_state=MessageState.DELIVERED)
    assert parse_receipt(pdu).state is MessageState.DELIVERED


def test_out_of_range_state_tlv_falls_back_to_text() -> None:
    pdu = _deliver("id:1 stat:DELIVRD", message_state=99)
    assert parse_receipt(pdu).state is MessageState.DELIVERED


def test_data_sm_receipt_in_message_payload() -> None:
    pdu = DataSm(esm_class=0x04, tlvs={Tlv.MESSAGE_PAYLOAD: b"id:abc stat:ACCEPTD err:000"})
    receipt = parse_receipt(pdu)
    assert (receipt.message_id, receipt.state) == ("abc", MessageState.ACCEPTED)


@pytest.mark.parametrize(
    "text", ["hello, this is an MO message", "id:123 but no state", "stat:DELIVRD err:000"]
)
def test_not_a_receipt(text: str) -> None:
    with pytest.raises(ReceiptParseError):
        parse_receipt(_deliver(text))
    assert issubclass(ReceiptParseError, ValueError)


def test_esm_class_message_types() -> None:
    assert is_delivery_receipt(0x04)
    assert is_delivery_receipt(0x44)  # UDHI set too
    assert not is_delivery_receipt(0x00)
    assert not is_delivery_receipt(0x20)
    assert is_intermediate_notification(0x20)
    assert is_sme_acknowledgement(0x08) and is_sme_acknowledgement(0x10)
    assert not is_sme_acknowledgement(0x04)


def test_stat_word_spellings() -> None:
    for word, state in [
        ("DELIVRD", MessageState.DELIVERED),
        ("UNDELIV", MessageState.UNDELIVERABLE),
        ("ACCEPTD", MessageState.ACCEPTED),
        ("UNKNOWN", MessageState.UNKNOWN),
        ("DELETED", MessageState.DELETED),
        ("ENROUTE", MessageState.ENROUTE),
        ("delivered", MessageState.DELIVERED),
        ("FAILED", MessageState.UNDELIVERABLE),
    ]:
        assert parse_receipt(_deliver(f"id:1 stat:{word}")).state is state
