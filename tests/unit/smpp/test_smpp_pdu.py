"""PDU codec: (pdu, hex) vectors both ways, hypothesis round trips, malformed input."""

from __future__ import annotations

import dataclasses
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.smpp import fields as wire
from gateway.smpp import pdu as pdu_module
from gateway.smpp.codes import CommandId, CommandStatus
from gateway.smpp.errors import LocalProtocolError, RemoteProtocolError
from gateway.smpp.pdu import (
    PDU_CLASSES,
    AlertNotification,
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    CancelSm,
    CancelSmResp,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    DestAddress,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Outbind,
    Pdu,
    QuerySm,
    QuerySmResp,
    ReplaceSm,
    ReplaceSmResp,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
    UnsuccessSme,
    decode,
    encode,
    error_reply,
    response_class,
)
from gateway.smpp.tlv import TLV_TYPES, NetworkErrorCode, Tlv, TlvType


def h(text: str) -> bytes:
    """Hex with spaces and '|' separators between fields, for readable vectors."""
    return bytes.fromhex(text.replace("|", " "))


# Each vector is built field by field from SMPP 3.4 chapter 4 (header: length, id, status,
# sequence), so it can be checked by hand against the spec tables.
VECTORS: list[tuple[Pdu, str]] = [
    (GenericNack(7, CommandStatus.ESME_RINVCMDID), "00000010 80000000 00000003 00000007"),
    (
        BindTransmitter(1, system_id="smppclient1", password="password"),
        "0000002a 00000002 00000000 00000001 | 736d7070636c69656e743100 | 70617373776f726400"
        "| 00 | 34 | 00 | 00 | 00",
    ),
    (
        BindReceiver(
            2,
            system_id="esme",
            password="pw",
            system_type="VMA",
            addr_ton=1,
            addr_npi=1,
            address_range="^44",
        ),
        "00000023 00000001 00000000 00000002 | 65736d6500 | 707700 | 564d4100 | 34 01 01| 5e343400",
    ),
    (
        BindTransceiver(3, system_id="a", password="b", interface_version=0x34),
        "00000019 00000009 00000000 00000003 | 6100 | 6200 | 00 | 34 00 00 | 00",
    ),
    (
        BindTransmitterResp(1, system_id="SMSC"),
        "00000015 80000002 00000000 00000001 | 534d534300",
    ),
    (
        BindReceiverResp(2, system_id="SMSC", tlvs={Tlv.SC_INTERFACE_VERSION: 0x34}),
        "0000001a 80000001 00000000 00000002 | 534d534300 | 0210 0001 34",
    ),
    (
        # §4.1.2: no body on error.
        BindTransceiverResp(3, CommandStatus.ESME_RINVPASWD),
        "00000010 80000009 0000000e 00000003",
    ),
    (
        Outbind(9, system_id="SMSC", password="secret"),
        "0000001c 0000000b 00000000 00000009 | 534d534300 | 73656372657400",
    ),
    (Unbind(4), "00000010 00000006 00000000 00000004"),
    (UnbindResp(4), "00000010 80000006 00000000 00000004"),
    (EnquireLink(5), "00000010 00000015 00000000 00000005"),
    (EnquireLinkResp(5), "00000010 80000015 00000000 00000005"),
    (
        SubmitSm(
            6,
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr="1234",
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="5678",
            registered_delivery=1,
            short_message=b"Hello",
        ),
        "0000002e 00000004 00000000 00000006 | 00 | 01 01 3132333400 | 01 01 3536373800"
        "| 00 00 00 | 00 | 00 | 01 00 00 00 | 05 48656c6c6f",
    ),
    (
        SubmitSm(
            8,
            service_type="CMT",
            source_addr="A",
            destination_addr="447700900123",
            esm_class=0x40,
            data_coding=8,
            validity_period="000001000000000R",
            short_message=bytes.fromhex("050003010201") + "hi".encode("utf-16-be"),
            tlvs={Tlv.USER_MESSAGE_REFERENCE: 0x1234, 0x1400: b"\x01\x02"},
        ),
        "00000057 00000004 00000000 00000008 | 434d5400 | 00 00 4100"
        "| 00 00 34343737303039303031323300 | 40 00 00 | 00"
        "| 3030303030313030303030303030305200 | 00 00 08 00 | 0a 050003010201 00680069"
        "| 0204 0002 1234 | 1400 0002 0102",
    ),
    (SubmitSmResp(6, message_id="abc123"), "00000017 80000004 00000000 00000006 | 61626331323300"),
    (
        # §4.4.2: "The submit_sm_resp PDU Body is not returned if the command_status field
        # contains a non-zero value."
        SubmitSmResp(6, CommandStatus.ESME_RTHROTTLED),
        "00000010 80000004 00000058 00000006",
    ),
    (
        DeliverSm(
            10,
            source_addr="5678",
            destination_addr="1234",
            esm_class=0x04,
            short_message=b"id:abc stat:DELIVRD",
            tlvs={
                Tlv.RECEIPTED_MESSAGE_ID: "abc",
                Tlv.MESSAGE_STATE: 2,
                Tlv.NETWORK_ERROR_CODE: NetworkErrorCode(3, 1),
            },
        ),
        "00000050 00000005 00000000 0000000a | 00 | 00 00 3536373800 | 00 00 3132333400"
        "| 04 00 00 | 00 | 00 | 00 00 00 00 | 13 69643a61626320737461743a44454c49565244"
        "| 001e 0004 61626300 | 0427 0001 02 | 0423 0003 03 0001",
    ),
    (DeliverSmResp(10), "00000011 80000005 00000000 0000000a | 00"),
    (
        SubmitMulti(
            11,
            source_addr="A",
            dest_addresses=(DestAddress(1, 1, "111"), DestAddress.distribution_list("friends")),
            short_message=b"x",
        ),
        "00000031 00000021 00000000 0000000b | 00 | 00 00 4100 | 02"
        "| 01 01 01 31313100 | 02 667269656e647300 | 00 00 00 | 00 | 00 | 00 00 00 00"
        "| 01 78",
    ),
    (
        SubmitMultiResp(11, message_id="m1", unsuccess_sme=(UnsuccessSme(1, 1, "222", 0x0B),)),
        "0000001e 80000021 00000000 0000000b | 6d3100 | 01 | 01 01 32323200 0000000b",
    ),
    (
        DataSm(
            12,
            source_addr="1234",
            destination_addr="5678",
            data_coding=0,
            tlvs={Tlv.MESSAGE_PAYLOAD: b"payload"},
        ),
        "0000002d 00000103 00000000 0000000c | 00 | 00 00 3132333400 | 00 00 3536373800"
        "| 00 00 00 | 0424 0007 7061796c6f6164",
    ),
    (
        DataSmResp(12, message_id="d1", tlvs={Tlv.DELIVERY_FAILURE_REASON: 1}),
        "00000018 80000103 00000000 0000000c | 643100 | 0425 0001 01",
    ),
    (
        QuerySm(13, message_id="m1", source_addr_ton=1, source_addr_npi=1, source_addr="1234"),
        "0000001a 00000003 00000000 0000000d | 6d3100 | 01 01 3132333400",
    ),
    (
        QuerySmResp(13, message_id="m1", final_date="", message_state=2, error_code=0),
        "00000016 80000003 00000000 0000000d | 6d3100 | 00 | 02 | 00",
    ),
    (
        CancelSm(14, message_id="m1", source_addr="1", destination_addr="2"),
        "0000001c 00000008 00000000 0000000e | 00 | 6d3100 | 00 00 3100 | 00 00 3200",
    ),
    (CancelSmResp(14), "00000010 80000008 00000000 0000000e"),
    (
        ReplaceSm(15, message_id="m1", source_addr="1", short_message=b"new"),
        "0000001f 00000007 00000000 0000000f | 6d3100 | 00 00 3100 | 00 | 00 | 00 | 00| 03 6e6577",
    ),
    (ReplaceSmResp(15), "00000010 80000007 00000000 0000000f"),
    (
        AlertNotification(
            16, source_addr="1234", esme_addr="5678", tlvs={Tlv.MS_AVAILABILITY_STATUS: 0}
        ),
        "00000023 00000102 00000000 00000010 | 00 00 3132333400 | 00 00 3536373800| 0422 0001 00",
    ),
]


def test_every_pdu_class_has_a_vector() -> None:
    assert {type(p) for p, _ in VECTORS} == set(PDU_CLASSES.values())
    assert len(PDU_CLASSES) == len(CommandId)


@pytest.mark.parametrize(("pdu", "wire_hex"), VECTORS, ids=lambda v: type(v).__name__)
def test_encode_matches_vector(pdu: Pdu, wire_hex: str) -> None:
    assert encode(pdu).hex() == h(wire_hex).hex()


@pytest.mark.parametrize(("pdu", "wire_hex"), VECTORS, ids=lambda v: type(v).__name__)
def test_decode_matches_vector(pdu: Pdu, wire_hex: str) -> None:
    decoded = decode(h(wire_hex))
    assert decoded == pdu
    assert type(decoded).command_id == pdu.command_id


def test_vectors_command_length_is_frame_length() -> None:
    for _pdu, wire_hex in VECTORS:
        frame = h(wire_hex)
        assert struct.unpack(">I", frame[:4])[0] == len(frame)


# --- generated round trips -----------------------------------------------------------------


def _cstrings(max_length: int) -> st.SearchStrategy[str]:
    return st.text(st.characters(min_codepoint=1, max_codepoint=255), max_size=max_length - 1)


_addr = _cstrings(21)
_dest = st.one_of(
    st.builds(DestAddress, st.integers(0, 255), st.integers(0, 255), _addr),
    st.builds(DestAddress.distribution_list, _addr),
)
_unsuccess = st.builds(
    UnsuccessSme, st.integers(0, 255), st.integers(0, 255), _addr, st.integers(0, 2**32 - 1)
)


def _tlv_value(tag: Tlv) -> st.SearchStrategy[Any]:
    kind = TLV_TYPES[tag]
    if kind is TlvType.CSTRING:
        return _cstrings(256)
    if kind is TlvType.OCTETS:
        return st.binary(max_size=300)
    if kind is TlvType.NETWORK_ERROR_CODE:
        return st.builds(NetworkErrorCode, st.integers(0, 255), st.integers(0, 65535))
    return st.integers(0, 2 ** (8 * kind.value) - 1)


_known_tlvs = st.sampled_from(list(Tlv)).flatmap(lambda t: st.tuples(st.just(t), _tlv_value(t)))
_unknown_tlvs = st.tuples(
    st.integers(0, 0xFFFF).filter(lambda t: t not in set(Tlv)), st.binary(max_size=40)
)
_tlvs = st.lists(st.one_of(_known_tlvs, _unknown_tlvs), max_size=6).map(dict)


def _field_strategy(f: dataclasses.Field[Any]) -> st.SearchStrategy[Any]:
    if f.name == "tlvs":
        return _tlvs
    kind = f.metadata["smpp"]
    if isinstance(kind, wire.CString):
        return _cstrings(kind.max_length)
    if isinstance(kind, wire.Integer):
        return st.integers(0, 2 ** (8 * kind.size) - 1)
    if isinstance(kind, wire.ShortMessage):
        return st.binary(max_size=254)
    if isinstance(kind, wire.DestAddresses):
        return st.lists(_dest, max_size=5).map(tuple)
    return st.lists(_unsuccess, max_size=5).map(tuple)


def pdus(cls: type[Pdu]) -> st.SearchStrategy[Pdu]:
    body = {
        f.name: _field_strategy(f)
        for f in dataclasses.fields(cls)
        if f.name not in ("sequence_number", "command_status")
    }
    return st.builds(
        cls,
        sequence_number=st.integers(0, 2**32 - 1),
        command_status=st.sampled_from([0, 0, 0, 1, 0x58, 0x400]),
        **body,
    )


any_pdu = st.sampled_from(sorted(PDU_CLASSES.values(), key=lambda c: c.command_id)).flatmap(pdus)


@given(any_pdu)
@settings(max_examples=1500)
def test_every_pdu_round_trips(pdu: Pdu) -> None:
    frame = encode(pdu)
    decoded = decode(frame)
    if pdu.command_status and type(pdu).omit_body_on_error:
        assert len(frame) == 16
        assert decoded == type(pdu)(pdu.sequence_number, pdu.command_status)
    else:
        assert decoded == pdu
        assert encode(decoded) == frame


@given(st.lists(_unknown_tlvs, min_size=1, max_size=8, unique_by=lambda t: t[0]))
def test_unknown_tlvs_survive_byte_for_byte_in_order(tlvs: list[tuple[int, bytes]]) -> None:
    raw = b"".join(struct.pack(">HH", tag, len(v)) + v for tag, v in tlvs)
    header_and_body = encode(DataSm(1, source_addr="1", destination_addr="2"))
    frame = struct.pack(">I", len(header_and_body) + len(raw)) + header_and_body[4:] + raw
    pdu = decode(frame)
    assert isinstance(pdu, DataSm)
    assert list(pdu.tlvs.items()) == tlvs
    assert all(type(k) is int for k in pdu.tlvs)
    assert encode(pdu) == frame


def test_known_tlvs_are_keyed_by_member_and_typed() -> None:
    pdu = decode(encode(DeliverSm(tlvs={0x001E: "id", 0x0427: 2, 0x020C: 7})))
    assert isinstance(pdu, DeliverSm)
    assert {type(k) for k in pdu.tlvs} == {Tlv}
    assert pdu.tlvs == {
        Tlv.RECEIPTED_MESSAGE_ID: "id",
        Tlv.MESSAGE_STATE: 2,
        Tlv.SAR_MSG_REF_NUM: 7,
    }


# --- error responses and empty bodies ------------------------------------------------------


@pytest.mark.parametrize(
    "cls",
    [c for c in PDU_CLASSES.values() if c.command_id & 0x80000000],
    ids=lambda c: c.__name__,
)
def test_response_with_error_status_and_empty_body_decodes(cls: type[Pdu]) -> None:
    frame = struct.pack(">IIII", 16, cls.command_id, CommandStatus.ESME_RSYSERR, 42)
    assert decode(frame) == cls(42, CommandStatus.ESME_RSYSERR)


def test_deliver_sm_resp_without_message_id_is_accepted() -> None:
    frame = struct.pack(">IIII", 16, CommandId.DELIVER_SM_RESP, 0, 3)
    assert decode(frame) == DeliverSmResp(3)


def test_data_sm_resp_error_keeps_its_body() -> None:
    pdu = DataSmResp(5, CommandStatus.ESME_RDELIVERYFAILURE, tlvs={Tlv.DELIVERY_FAILURE_REASON: 2})
    assert decode(encode(pdu)) == pdu


# --- malformed input -------------------------------------------------------------------------


def _error(frame: bytes) -> RemoteProtocolError:
    with pytest.raises(RemoteProtocolError) as info:
        decode(frame)
    return info.value


def test_unknown_command_id_gets_generic_nack_invcmdid() -> None:
    err = _error(struct.pack(">IIII", 16, 0x00000099, 0, 77))
    assert err.command_status == CommandStatus.ESME_RINVCMDID
    assert err.reply == GenericNack(77, CommandStatus.ESME_RINVCMDID)
    assert not err.fatal


def test_command_length_disagreeing_with_frame_is_fatal() -> None:
    frame = encode(EnquireLink(9)) + b"\x00"
    err = _error(frame)
    assert err.fatal
    assert err.command_status == CommandStatus.ESME_RINVCMDLEN
    assert err.reply == GenericNack(9, CommandStatus.ESME_RINVCMDLEN)


def test_frame_shorter_than_header_is_fatal() -> None:
    assert _error(b"\x00\x00\x00\x0c" + b"\x00" * 8).fatal


def _with_body(command_id: int, body: bytes, sequence: int = 21) -> bytes:
    return struct.pack(">IIII", 16 + len(body), command_id, 0, sequence) + body


def test_missing_nul_terminator_is_truncation_answered_with_resp() -> None:
    err = _error(_with_body(CommandId.SUBMIT_SM, b"\x00\x01\x01123"))
    assert err.command_status == CommandStatus.ESME_RINVCMDLEN
    assert err.reply == SubmitSmResp(21, CommandStatus.ESME_RINVCMDLEN)
    assert not err.fatal


def test_cstring_longer_than_its_max_gets_field_status() -> None:
    body = b"\x00\x01\x01" + b"1" * 21 + b"\x00" + b"\x00" * 20
    err = _error(_with_body(CommandId.SUBMIT_SM, body))
    assert err.command_status == CommandStatus.ESME_RINVSRCADR
    assert err.reply == SubmitSmResp(21, CommandStatus.ESME_RINVSRCADR)


def test_system_id_too_long_is_invsysid() -> None:
    err = _error(_with_body(CommandId.BIND_TRANSMITTER, b"x" * 16 + b"\x00" * 8))
    assert err.command_status == CommandStatus.ESME_RINVSYSID
    assert err.reply == BindTransmitterResp(21, CommandStatus.ESME_RINVSYSID)


def test_sm_length_past_the_end_is_invmsglen() -> None:
    body = encode(SubmitSm(21, short_message=b"abc"))[16:]
    body = body[:-4] + b"\x10abc"  # sm_length says 16, 3 octets follow
    err = _error(_with_body(CommandId.SUBMIT_SM, body))
    assert err.command_status == CommandStatus.ESME_RINVMSGLEN


def test_truncated_tlv_is_invoptparstream() -> None:
    good = encode(DataSm(21))
    err = _error(_with_body(CommandId.DATA_SM, good[16:] + b"\x04\x24\x00\x09abc"))
    assert err.command_status == CommandStatus.ESME_RINVOPTPARSTREAM
    assert err.reply == DataSmResp(21, CommandStatus.ESME_RINVOPTPARSTREAM)
    err = _error(_with_body(CommandId.DATA_SM, good[16:] + b"\x04\x24\x00"))
    assert err.command_status == CommandStatus.ESME_RINVOPTPARSTREAM


def test_known_tlv_with_wrong_length_is_invparlen() -> None:
    good = encode(DataSm(21))
    err = _error(_with_body(CommandId.DATA_SM, good[16:] + b"\x02\x0c\x00\x01\x05"))
    assert err.command_status == CommandStatus.ESME_RINVPARLEN


def test_trailing_octets_after_a_body_without_tlvs() -> None:
    err = _error(_with_body(CommandId.QUERY_SM, b"m\x00\x00\x001\x00extra"))
    assert err.command_status == CommandStatus.ESME_RINVCMDLEN
    assert err.reply == QuerySmResp(21, CommandStatus.ESME_RINVCMDLEN)


def test_malformed_pdu_without_response_gets_generic_nack() -> None:
    err = _error(_with_body(CommandId.OUTBIND, b"no-nul"))
    assert err.reply == GenericNack(21, CommandStatus.ESME_RINVCMDLEN)


def test_invalid_dest_flag() -> None:
    body = b"\x00\x00\x00A\x00\x01\x07"
    err = _error(_with_body(CommandId.SUBMIT_MULTI, body))
    assert err.command_status == CommandStatus.ESME_RINVDESTFLAG


def test_receipted_message_id_without_nul_is_tolerated() -> None:
    good = encode(DeliverSm(21))
    pdu = decode(_with_body(CommandId.DELIVER_SM, good[16:] + b"\x00\x1e\x00\x03abc"))
    assert isinstance(pdu, DeliverSm)
    assert pdu.tlvs == {Tlv.RECEIPTED_MESSAGE_ID: "abc"}


def test_decode_accepts_bytearray_and_memoryview() -> None:
    frame = encode(SubmitSm(1, short_message=b"hi"))
    assert decode(bytearray(frame)) == decode(memoryview(frame)) == decode(frame)  # type: ignore[arg-type]


# --- encode refuses what it cannot represent -----------------------------------------------


@pytest.mark.parametrize(
    "pdu",
    [
        SubmitSm(source_addr="1" * 21),
        SubmitSm(short_message=b"x" * 255),
        SubmitSm(short_message="text"),  # type: ignore[arg-type]
        SubmitSm(destination_addr="a\x00b"),
        SubmitSm(destination_addr="\u20ac"),
        SubmitSm(esm_class=256),
        SubmitSm(sequence_number=-1),
        SubmitSm(tlvs={Tlv.SAR_MSG_REF_NUM: "x"}),
        SubmitSm(tlvs={Tlv.SAR_MSG_REF_NUM: 70000}),
        SubmitSm(tlvs={0x1400: 5}),
        SubmitMulti(dest_addresses=(DestAddress(dest_flag=9),)),
        BindTransmitter(system_id=None),  # type: ignore[arg-type]
    ],
    ids=repr,
)
def test_encode_rejects_unrepresentable_values(pdu: Pdu) -> None:
    with pytest.raises(LocalProtocolError):
        encode(pdu)


def test_error_reply_and_response_class() -> None:
    assert response_class(CommandId.SUBMIT_SM) is SubmitSmResp
    assert response_class(CommandId.OUTBIND) is None
    assert response_class(CommandId.SUBMIT_SM_RESP) is None
    assert error_reply(CommandId.ALERT_NOTIFICATION, 3, 8) == GenericNack(3, 8)
    assert error_reply(CommandId.BIND_RECEIVER, 3, 8) == BindReceiverResp(3, 8)


def test_pdus_are_frozen() -> None:
    pdu = SubmitSm()
    with pytest.raises(dataclasses.FrozenInstanceError):
        pdu.short_message = b"x"  # type: ignore[misc]


@pytest.mark.parametrize("cls", pdu_module._ALL_CLASSES, ids=lambda c: c.__name__)
def test_with_sequence_is_replace_without_its_cost(cls: type[pdu_module.Pdu]) -> None:
    original = cls(command_status=0)
    numbered = pdu_module.with_sequence(original, 4242)
    assert numbered == dataclasses.replace(original, sequence_number=4242)
    assert type(numbered) is cls and original.sequence_number == 0  # a copy, not a change
    with pytest.raises(dataclasses.FrozenInstanceError):
        numbered.sequence_number = 1  # type: ignore[misc]
    assert pdu_module.decode(pdu_module.encode(numbered)) == numbered
