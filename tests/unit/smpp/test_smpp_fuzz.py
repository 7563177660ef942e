"""Fuzzing Session.receive_data: any input yields events; nothing but RemoteProtocolError may
ever escape (and we prefer it never does)."""

from __future__ import annotations

import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.smpp.errors import RemoteProtocolError
from gateway.smpp.pdu import (
    BindTransceiver,
    BindTransceiverResp,
    DataSm,
    DeliverSm,
    DestAddress,
    EnquireLink,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    UnsuccessSme,
    decode,
    encode,
)
from gateway.smpp.session import Event, ProtocolErrorOccurred, Session, SessionConfig
from gateway.smpp.state import Role
from gateway.smpp.tlv import Tlv

SEEDS = [
    encode(p)
    for p in (
        SubmitSm(
            3,
            source_addr="123",
            destination_addr="456",
            short_message=b"hello",
            tlvs={Tlv.SAR_MSG_REF_NUM: 1, 0x1500: b"vendor"},
        ),
        DeliverSm(
            4,
            esm_class=4,
            short_message=b"id:1 stat:DELIVRD",
            tlvs={Tlv.RECEIPTED_MESSAGE_ID: "1", Tlv.MESSAGE_STATE: 2},
        ),
        SubmitSmResp(3, message_id="abc"),
        BindTransceiver(1, system_id="a", password="b"),
        BindTransceiverResp(1, system_id="s", tlvs={Tlv.SC_INTERFACE_VERSION: 0x34}),
        EnquireLink(9),
        DataSm(5, tlvs={Tlv.MESSAGE_PAYLOAD: b"x" * 40}),
        SubmitMulti(6, dest_addresses=(DestAddress(1, 1, "1"), DestAddress.distribution_list("d"))),
        SubmitMultiResp(6, unsuccess_sme=(UnsuccessSme(1, 1, "2", 8),)),
    )
]


def _sessions() -> list[Session]:
    config = SessionConfig(max_command_length=4096)
    esme = Session(Role.ESME, config, clock=lambda: 0.0)
    smsc = Session(Role.SMSC, config, clock=lambda: 0.0)
    bound_smsc = Session(Role.SMSC, config, clock=lambda: 0.0)
    bound_smsc.receive_data(encode(BindTransceiver(1)))
    bound_smsc.send(BindTransceiverResp(1))
    return [esme, smsc, bound_smsc]


def _feed(data: bytes, chunk: int) -> None:
    for session in _sessions():
        events: list[Event] = []
        try:
            for pos in range(0, len(data), chunk):
                events += session.receive_data(data[pos : pos + chunk])
        except RemoteProtocolError:  # allowed by the contract, though we never expect it
            pass
        for event in events:
            assert isinstance(event, Event)
            if isinstance(event, ProtocolErrorOccurred):
                reply = event.error.reply
                if reply is not None:
                    assert decode(encode(reply)) == reply


@given(st.binary(max_size=300), st.integers(1, 64))
@settings(max_examples=3000, suppress_health_check=[HealthCheck.too_slow])
def test_random_bytes(data: bytes, chunk: int) -> None:
    _feed(data, chunk)


_mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10_000), st.integers(0, 7)),
    st.tuples(st.just("set"), st.integers(0, 10_000), st.integers(0, 255)),
    st.tuples(st.just("cut"), st.integers(0, 10_000), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 10_000), st.integers(0, 255)),
)


def _mutate(frame: bytes, mutations: list[tuple[str, int, int]], fix_length: bool) -> bytes:
    data = bytearray(frame)
    for op, where, value in mutations:
        if not data:
            break
        i = where % len(data)
        if op == "flip":
            data[i] ^= 1 << value
        elif op == "set":
            data[i] = value
        elif op == "cut":
            del data[i:]
        else:
            data.insert(i, value)
    if fix_length and len(data) >= 4:
        # Keep command_length right so the mutation reaches the body decoder, not the framer.
        data[:4] = struct.pack(">I", len(data))
    return bytes(data)


@given(
    st.lists(st.sampled_from(SEEDS), min_size=1, max_size=3),
    st.lists(_mutation, min_size=1, max_size=4),
    st.booleans(),
    st.integers(1, 64),
)
@settings(max_examples=3000, suppress_health_check=[HealthCheck.too_slow])
def test_mutated_pdus(
    frames: list[bytes], mutations: list[tuple[str, int, int]], fix_length: bool, chunk: int
) -> None:
    data = b"".join(_mutate(f, mutations, fix_length) for f in frames)
    _feed(data, chunk)
