"""Our codec against independent SMPP codecs: smpplib (PDU classes, generate/parse) and
aiosmpplib (``SmppMessage.pdu()`` / ``from_pdu()``, which need no socket)."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.smpp.codes import CommandStatus
from gateway.smpp.pdu import (
    BindTransceiver,
    BindTransceiverResp,
    DeliverSm,
    EnquireLink,
    Pdu,
    SubmitSm,
    SubmitSmResp,
    decode,
    encode,
)
from gateway.smpp.tlv import Tlv

smpplib_smpp = pytest.importorskip("smpplib.smpp")


class _SmpplibClient:
    """smpplib draws sequence numbers from a client object; give each PDU its own, so that
    nothing depends on smpplib's shared module-level default client."""

    def __init__(self, sequence: int = 1) -> None:
        self.sequence = sequence

    def next_sequence(self) -> int:
        return self.sequence


def smpplib_pdu(command: str, **fields: Any) -> Any:
    client = _SmpplibClient(fields.pop("sequence", 1))
    return smpplib_smpp.make_pdu(command, client=client, **fields)


def smpplib_parse(data: bytes) -> Any:
    return smpplib_smpp.parse_pdu(data, client=_SmpplibClient())


def _ours(data: bytes) -> Pdu:
    return decode(data)


# --- smpplib builds, we decode ---------------------------------------------------------------


def test_smpplib_submit_sm_decodes() -> None:
    theirs = smpplib_pdu(
        "submit_sm",
        sequence=42,
        service_type="CMT",
        source_addr_ton=5,
        source_addr_npi=0,
        source_addr="ACME",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr="447700900123",
        esm_class=0x40,
        registered_delivery=1,
        data_coding=8,
        short_message=b"\x05\x00\x03\x07\x02\x01" + "Grüße".encode("utf-16-be"),
        sar_msg_ref_num=7,
        sar_total_segments=2,
        sar_segment_seqnum=1,
    )
    pdu = _ours(theirs.generate())
    assert isinstance(pdu, SubmitSm)
    assert pdu.sequence_number == 42
    assert (pdu.service_type, pdu.source_addr_ton, pdu.source_addr) == ("CMT", 5, "ACME")
    assert (pdu.dest_addr_ton, pdu.dest_addr_npi, pdu.destination_addr) == (1, 1, "447700900123")
    assert (pdu.esm_class, pdu.registered_delivery, pdu.data_coding) == (0x40, 1, 8)
    assert pdu.short_message == theirs.short_message
    assert pdu.tlvs == {
        Tlv.SAR_MSG_REF_NUM: 7,
        Tlv.SAR_TOTAL_SEGMENTS: 2,
        Tlv.SAR_SEGMENT_SEQNUM: 1,
    }
    assert encode(pdu) == theirs.generate()


def test_smpplib_deliver_sm_receipt_decodes() -> None:
    text = b"id:abc sub:001 dlvrd:001 submit date:2401021530 done date:2401021531 stat:DELIVRD"
    theirs = smpplib_pdu(
        "deliver_sm",
        sequence=9,
        source_addr="447700900123",
        destination_addr="ACME",
        esm_class=0x04,
        short_message=text,
        receipted_message_id="abc",
        message_state=2,
    )
    pdu = _ours(theirs.generate())
    assert isinstance(pdu, DeliverSm)
    assert pdu.short_message == text
    assert pdu.tlvs == {Tlv.RECEIPTED_MESSAGE_ID: "abc", Tlv.MESSAGE_STATE: 2}


def test_smpplib_bind_transceiver_decodes() -> None:
    theirs = smpplib_pdu(
        "bind_transceiver",
        sequence=1,
        system_id="esme01",
        password="secret",
        system_type="VMA",
        interface_version=0x34,
        addr_ton=1,
        addr_npi=1,
        address_range="",
    )
    assert _ours(theirs.generate()) == BindTransceiver(
        1, system_id="esme01", password="secret", system_type="VMA", addr_ton=1, addr_npi=1
    )


def test_smpplib_submit_sm_resp_decodes() -> None:
    theirs = smpplib_pdu("submit_sm_resp", sequence=42, message_id="0a1b2c")
    assert _ours(theirs.generate()) == SubmitSmResp(42, message_id="0a1b2c")


def test_smpplib_enquire_link_decodes() -> None:
    assert _ours(smpplib_pdu("enquire_link", sequence=3).generate()) == EnquireLink(3)


# --- we encode, smpplib parses ---------------------------------------------------------------


def test_our_submit_sm_parses_in_smpplib() -> None:
    ours = SubmitSm(
        77,
        source_addr_ton=1,
        source_addr_npi=1,
        source_addr="447700900001",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr="447700900123",
        registered_delivery=1,
        short_message=b"hello world",
        tlvs={Tlv.USER_MESSAGE_REFERENCE: 513},
    )
    theirs = smpplib_parse(encode(ours))
    assert theirs.command == "submit_sm"
    assert theirs.sequence == 77
    assert theirs.source_addr == b"447700900001"
    assert theirs.destination_addr == b"447700900123"
    assert theirs.registered_delivery == 1
    assert theirs.short_message == b"hello world"
    assert theirs.user_message_reference == 513


def test_our_deliver_sm_parses_in_smpplib() -> None:
    ours = DeliverSm(
        5,
        source_addr="447700900123",
        destination_addr="ACME",
        esm_class=4,
        short_message=b"id:x stat:DELIVRD",
        tlvs={Tlv.RECEIPTED_MESSAGE_ID: "x", Tlv.MESSAGE_STATE: 2},
    )
    theirs = smpplib_parse(encode(ours))
    assert theirs.command == "deliver_sm"
    assert theirs.esm_class == 4
    assert theirs.short_message == b"id:x stat:DELIVRD"
    assert theirs.receipted_message_id == b"x"
    assert theirs.message_state == 2


def test_our_bind_transceiver_and_resp_parse_in_smpplib() -> None:
    bind = smpplib_parse(encode(BindTransceiver(1, system_id="esme01", password="pw")))
    assert bind.command == "bind_transceiver"
    assert (bind.system_id, bind.password, bind.interface_version) == (b"esme01", b"pw", 0x34)
    resp = smpplib_parse(
        encode(BindTransceiverResp(1, system_id="SMSC", tlvs={Tlv.SC_INTERFACE_VERSION: 0x34}))
    )
    assert resp.command == "bind_transceiver_resp"
    assert resp.system_id == b"SMSC"
    assert resp.sc_interface_version == 0x34


def test_our_submit_sm_resp_parses_in_smpplib() -> None:
    theirs = smpplib_parse(encode(SubmitSmResp(42, message_id="abc")))
    assert (theirs.command, theirs.sequence, theirs.message_id) == ("submit_sm_resp", 42, b"abc")
    error = smpplib_parse(encode(SubmitSmResp(43, CommandStatus.ESME_RTHROTTLED)))
    assert (error.status, error.is_error()) == (CommandStatus.ESME_RTHROTTLED, True)


# --- aiosmpplib --------------------------------------------------------------------------------

aio = pytest.importorskip("aiosmpplib.protocol")
aio_state = pytest.importorskip("aiosmpplib.state")


def _aio_decode(data: bytes) -> Any:
    header = aio.SmppMessage.parse_header(data)
    cls = {
        aio_state.SmppCommand.SUBMIT_SM: aio.SubmitSm,
        aio_state.SmppCommand.DELIVER_SM: aio.DeliverSm,
        aio_state.SmppCommand.SUBMIT_SM_RESP: aio.SubmitSmResp,
        aio_state.SmppCommand.BIND_TRANSCEIVER: aio.BindTransceiver,
        aio_state.SmppCommand.BIND_TRANSCEIVER_RESP: aio.BindTransceiverResp,
    }[header.smpp_command]
    return cls.from_pdu(data, header)


def test_aiosmpplib_submit_sm_decodes() -> None:
    theirs = aio.SubmitSm(
        sequence_num=11,
        short_message="hello",
        encoding="latin_1",
        source=aio_state.PhoneNumber("ACME", aio_state.TON.ALPHANUMERIC),
        destination=aio_state.PhoneNumber(
            "447700900123", aio_state.TON.INTERNATIONAL, aio_state.NPI.ISDN
        ),
    )
    pdu = _ours(theirs.pdu())
    assert isinstance(pdu, SubmitSm)
    assert (pdu.sequence_number, pdu.source_addr, pdu.source_addr_ton) == (11, "ACME", 5)
    assert (pdu.destination_addr, pdu.dest_addr_ton, pdu.dest_addr_npi) == ("447700900123", 1, 1)
    assert (pdu.data_coding, pdu.short_message, pdu.registered_delivery) == (3, b"hello", 1)


def test_aiosmpplib_bind_and_resp_decode() -> None:
    bind = aio.BindTransceiver(sequence_num=1, system_id="esme01", password="pw")
    assert _ours(bind.pdu()) == BindTransceiver(1, system_id="esme01", password="pw")
    resp = aio.BindTransceiverResp(sequence_num=1, system_id="SMSC", sc_interface_version=0x34)
    assert _ours(resp.pdu()) == BindTransceiverResp(
        1, system_id="SMSC", tlvs={Tlv.SC_INTERFACE_VERSION: 0x34}
    )
    assert _ours(aio.SubmitSmResp(sequence_num=2, message_id="m1").pdu()) == SubmitSmResp(
        2, message_id="m1"
    )


def test_our_pdus_parse_in_aiosmpplib() -> None:
    submit = _aio_decode(
        encode(
            SubmitSm(
                5,
                source_addr="ACME",
                destination_addr="447700900123",
                data_coding=3,
                short_message=b"hello",
                tlvs={Tlv.USER_MESSAGE_REFERENCE: 9},
            )
        )
    )
    assert (submit.sequence_num, submit.short_message) == (5, "hello")
    assert (submit.source.number, submit.destination.number) == ("ACME", "447700900123")
    assert [(p.tag, p.value) for p in submit.optional_params] == [(0x0204, 9)]

    deliver = _aio_decode(
        encode(
            DeliverSm(
                6,
                source_addr="447700900123",
                destination_addr="ACME",
                esm_class=4,
                data_coding=1,
                short_message=b"id:abc stat:DELIVRD err:000",
            )
        )
    )
    assert deliver.is_receipt()
    assert deliver.short_message == "id:abc stat:DELIVRD err:000"

    resp = _aio_decode(encode(SubmitSmResp(7, message_id="abc")))
    assert (resp.sequence_num, resp.message_id) == (7, "abc")

    bind = _aio_decode(encode(BindTransceiver(8, system_id="esme01", password="pw")))
    assert (bind.system_id, bind.password, bind.interface_version) == ("esme01", "pw", 0x34)
