"""TLV table, encode and decode."""

from __future__ import annotations

import pytest

from gateway.smpp.codes import CommandStatus
from gateway.smpp.errors import FieldError, LocalProtocolError
from gateway.smpp.tlv import TLV_TYPES, NetworkErrorCode, Tlv, TlvType, decode_tlvs, encode_tlvs


def test_every_tag_has_a_type() -> None:
    assert set(TLV_TYPES) == set(Tlv)


def test_spec_tag_values() -> None:
    assert Tlv.SAR_MSG_REF_NUM == 0x020C
    assert Tlv.SAR_TOTAL_SEGMENTS == 0x020E
    assert Tlv.SAR_SEGMENT_SEQNUM == 0x020F
    assert Tlv.MESSAGE_PAYLOAD == 0x0424
    assert Tlv.RECEIPTED_MESSAGE_ID == 0x001E
    assert Tlv.MESSAGE_STATE == 0x0427
    assert Tlv.NETWORK_ERROR_CODE == 0x0423
    assert Tlv.SC_INTERFACE_VERSION == 0x0210
    assert TLV_TYPES[Tlv.SAR_MSG_REF_NUM] is TlvType.INT2
    assert TLV_TYPES[Tlv.QOS_TIME_TO_LIVE] is TlvType.INT4


def test_network_error_code_is_three_octets() -> None:
    raw = encode_tlvs({Tlv.NETWORK_ERROR_CODE: NetworkErrorCode(3, 0x0102)})
    assert raw == bytes.fromhex("0423 0003 03 0102")
    assert decode_tlvs(raw, 0, len(raw)) == {Tlv.NETWORK_ERROR_CODE: NetworkErrorCode(3, 0x0102)}


def test_alert_on_message_delivery_has_no_value() -> None:
    raw = encode_tlvs({Tlv.ALERT_ON_MESSAGE_DELIVERY: b""})
    assert raw == bytes.fromhex("130c 0000")
    assert decode_tlvs(raw, 0, 4) == {Tlv.ALERT_ON_MESSAGE_DELIVERY: b""}


def test_repeated_tag_keeps_first_position_last_value() -> None:
    raw = bytes.fromhex("020c 0002 0001  0427 0001 02  020c 0002 0009")
    assert list(decode_tlvs(raw, 0, len(raw)).items()) == [
        (Tlv.SAR_MSG_REF_NUM, 9),
        (Tlv.MESSAGE_STATE, 2),
    ]


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("0427", CommandStatus.ESME_RINVOPTPARSTREAM),
        ("0427 0002 02", CommandStatus.ESME_RINVOPTPARSTREAM),
        ("0427 0002 0202", CommandStatus.ESME_RINVPARLEN),
        ("0423 0002 0300", CommandStatus.ESME_RINVPARLEN),
    ],
)
def test_malformed_tlvs(raw: str, status: int) -> None:
    data = bytes.fromhex(raw)
    with pytest.raises(FieldError) as info:
        decode_tlvs(data, 0, len(data))
    assert info.value.command_status == status


@pytest.mark.parametrize(
    "tlvs",
    [
        {Tlv.MESSAGE_STATE: 256},
        {Tlv.MESSAGE_STATE: True},
        {Tlv.RECEIPTED_MESSAGE_ID: "a\x00b"},
        {Tlv.RECEIPTED_MESSAGE_ID: 5},
        {Tlv.MESSAGE_PAYLOAD: "text"},
        {Tlv.NETWORK_ERROR_CODE: NetworkErrorCode(3, 70000)},
        {0x1400: "not bytes"},
        {0x10000: b""},
        {Tlv.MESSAGE_PAYLOAD: b"x" * 0x10000},
    ],
    ids=repr,
)
def test_encode_rejects_wrong_values(tlvs: dict[int, object]) -> None:
    with pytest.raises(LocalProtocolError):
        encode_tlvs(tlvs)  # type: ignore[arg-type]
