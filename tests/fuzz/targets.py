"""Fuzz targets: each takes one input (bytes) and raises only on a broken contract.

- ``decoder``: ``pdu.decode`` returns a PDU or raises ``RemoteProtocolError``, and a PDU it
  returns encodes again and decodes to itself.
- ``session``: the input is read as a program driving a server-side (SMSC) ``Session`` through
  random sequences of valid and mutated PDUs, partial writes, timer ticks and our own sends,
  starting in a random bind state. Each request the session reports is answered with the
  response of its kind, and each protocol error with the reply it carries, exactly as the SMPP
  server does; the session must accept every such answer, never report a request its bind
  state forbids, never raise (not even ``RemoteProtocolError``), and hold bounded state.
- ``text``: random unicode is encoded, split, rendered for every concatenation mode and decoded
  back; random bytes are decoded as a short_message under a random data_coding, UDHI and
  packing. Only ``UnencodableText`` (a pinned encoding that cannot carry the text) and
  ``ValueError`` from a malformed UDH are allowed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from gateway.smpp.codes import CommandId, CommandStatus
from gateway.smpp.errors import LocalProtocolError, RemoteProtocolError
from gateway.smpp.pdu import (
    HEADER_LENGTH,
    BindReceiver,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    CancelSm,
    DataSm,
    DeliverSm,
    DeliverSmResp,
    DestAddress,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Pdu,
    QuerySm,
    ReplaceSm,
    SubmitMulti,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
    decode,
    encode,
    response_class,
)
from gateway.smpp.session import (
    ConnectionClosed,
    Event,
    ProtocolErrorOccurred,
    RequestReceived,
    ResponseReceived,
    Session,
    SessionConfig,
)
from gateway.smpp.state import BindState, Role
from gateway.smpp.tlv import Tlv
from gateway.text import (
    Concatenation,
    Encoding,
    UnencodableText,
    decode_body,
    decode_short_message,
    encode_text,
    render_short_message,
)

Target = Callable[[bytes], None]

# --- seeds -------------------------------------------------------------------------------------

SEED_PDUS: tuple[Pdu, ...] = (
    BindTransmitter(1, system_id="demo", password="pw"),
    BindReceiver(1, system_id="demo", password="pw"),
    BindTransceiver(1, system_id="demo", password="pw", interface_version=0x34),
    SubmitSm(
        2,
        source_addr="Acme",
        destination_addr="4915112345678",
        registered_delivery=1,
        short_message=b"hello",
        tlvs={Tlv.SAR_MSG_REF_NUM: 1, Tlv.SAR_TOTAL_SEGMENTS: 2, Tlv.SAR_SEGMENT_SEQNUM: 1},
    ),
    SubmitSm(3, destination_addr="1", esm_class=0x40, short_message=b"\x05\x00\x03\x01\x02\x01hi"),
    DataSm(4, destination_addr="1", tlvs={Tlv.MESSAGE_PAYLOAD: b"x" * 40}),
    SubmitMulti(5, dest_addresses=(DestAddress(1, 1, "1"), DestAddress.distribution_list("d"))),
    QuerySm(6, message_id="abc"),
    CancelSm(7, message_id="abc"),
    ReplaceSm(8, message_id="abc", short_message=b"new"),
    EnquireLink(9),
    EnquireLinkResp(9),
    DeliverSmResp(10, message_id=""),
    GenericNack(11, CommandStatus.ESME_RINVCMDID),
    SubmitSmResp(12, message_id="x"),
    Unbind(13),
    UnbindResp(13),
    DeliverSm(
        14,
        esm_class=4,
        short_message=b"id:1 sub:001 dlvrd:001 stat:DELIVRD err:000",
        tlvs={Tlv.RECEIPTED_MESSAGE_ID: "1", Tlv.MESSAGE_STATE: 2},
    ),
    BindTransceiverResp(1, system_id="SMSGW", tlvs={Tlv.SC_INTERFACE_VERSION: 0x34}),
)
SEED_FRAMES: tuple[bytes, ...] = tuple(encode(p) for p in SEED_PDUS)

TEXT_SEEDS: tuple[bytes, ...] = (
    b"\x00\x00hello world",
    b"\x01\x08\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xf0\x9f\x98\x80",
    b"\x02\x00" + "€[]{}^~|\\ çÇ ğĞ".encode(),
    b"\x03\x04\x05\x00\x03\x2a\x02\x01\xc8\x32\x9b\xfd\x06",
    b"\x04\x03" + bytes(range(256)),
    b"\x05\x18" + ("long text " * 40).encode(),
)


def seeds(name: str) -> tuple[bytes, ...]:
    if name == "text":
        return TEXT_SEEDS
    if name == "session":
        # A program: state byte, then "feed seed PDU n" ops for several PDUs.
        return tuple(bytes([state, 0, i, 0, i + 1, 3, 50]) for state in range(4) for i in (0, 3))
    return SEED_FRAMES


# --- decoder -----------------------------------------------------------------------------------


def decoder(data: bytes) -> None:
    try:
        pdu = decode(data)
    except RemoteProtocolError as exc:
        _check_error(exc)
        return
    try:
        again = encode(pdu)
    except LocalProtocolError:
        # Some decoded values are legal on the wire but not what we would produce (an
        # over-long field the peer sent is kept as read); decoding must still succeed.
        return
    back = decode(again)
    if pdu.command_status and len(again) == HEADER_LENGTH:
        # A refusal is sent without a body (SMPP 3.4 §4.1.2): only the header survives.
        assert (back.command_id, back.command_status, back.sequence_number) == (
            pdu.command_id,
            pdu.command_status,
            pdu.sequence_number,
        )
    else:
        assert back == pdu, f"re-encoding changed {pdu!r}"


def _check_error(exc: RemoteProtocolError) -> None:
    assert exc.command_status != CommandStatus.ESME_ROK, exc
    if exc.reply is not None:
        assert exc.reply.command_status == exc.command_status, exc
        encode(exc.reply)  # the reply we would send must encode


# --- session -----------------------------------------------------------------------------------

_CONFIG = SessionConfig(
    max_command_length=4096,
    window=4,
    response_timeout=5.0,
    enquire_link_interval=20.0,
    link_timeout=5.0,
    bind_timeout=30.0,
    pdu_timeout=10.0,
)
_TRANSMITS = frozenset(
    (
        CommandId.SUBMIT_SM,
        CommandId.SUBMIT_MULTI,
        CommandId.DATA_SM,
        CommandId.QUERY_SM,
        CommandId.CANCEL_SM,
        CommandId.REPLACE_SM,
    )
)
_TX_STATES = frozenset((BindState.BOUND_TX, BindState.BOUND_TRX))
_RX_STATES = frozenset((BindState.BOUND_RX, BindState.BOUND_TRX))
_BINDS = (BindTransmitter(1), BindReceiver(1), BindTransceiver(1))
_MAX_OPS = 64


class _Program:
    """Reads the fuzz input as a sequence of small integers (0 when it runs out)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    @property
    def more(self) -> bool:
        return self.pos < len(self.data)

    def byte(self) -> int:
        if self.pos >= len(self.data):
            return 0
        value = self.data[self.pos]
        self.pos += 1
        return value

    def take(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += len(chunk)
        return chunk


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def session(data: bytes) -> None:
    program = _Program(data)
    clock = _Clock()
    smsc = Session(Role.SMSC, _CONFIG, clock=clock)
    start = program.byte() % 4
    if start:
        smsc.receive_data(encode(_BINDS[start - 1]))
        smsc.send(response_class(_BINDS[start - 1].command_id)(1))  # type: ignore[misc]
    chunk = 1 + program.byte() % 64
    for _ in range(_MAX_OPS):
        if not program.more:
            break
        op = program.byte() % 8
        if op in (0, 1):  # a valid PDU, with a chosen sequence number
            pdu = SEED_PDUS[program.byte() % len(SEED_PDUS)]
            sequence = 1 + int.from_bytes(program.take(2) or b"\x01", "big")
            _feed(smsc, encode(dataclasses.replace(pdu, sequence_number=sequence)), chunk)
        elif op == 2:  # a mutated PDU: some octets overwritten
            frame = bytearray(SEED_FRAMES[program.byte() % len(SEED_FRAMES)])
            for _ in range(1 + program.byte() % 4):
                frame[program.byte() % len(frame)] = program.byte()
            _feed(smsc, bytes(frame), chunk)
        elif op == 3:  # raw octets
            _feed(smsc, program.take(program.byte() % 64), chunk)
        elif op == 4:  # time passes
            clock.now += program.byte() * 0.25
            _handle(smsc, smsc.handle_timer(clock.now))
        elif op == 5:  # we send a deliver_sm when the bind and window allow
            if smsc.state in _RX_STATES and smsc.window_available:
                smsc.send(DeliverSm(0, destination_addr="1", short_message=b"mo"))
        elif op == 6:  # we unbind
            if smsc.bound:
                smsc.send(Unbind(0))
        elif op == 7:  # the peer closes
            _handle(smsc, smsc.receive_data(b""))
            assert smsc.state is BindState.CLOSED
            assert smsc.outstanding == 0 and smsc.peer_outstanding == 0
            return


def _feed(smsc: Session, data: bytes, chunk: int) -> None:
    for pos in range(0, len(data), chunk):
        before = smsc.state
        events = smsc.receive_data(data[pos : pos + chunk])
        _handle(smsc, events, before)


def _handle(smsc: Session, events: list[Event], before: BindState | None = None) -> None:
    unbinds: list[Pdu] = []
    for event in events:
        assert isinstance(event, Event), event
        match event:
            case RequestReceived(pdu=pdu):
                _check_allowed(pdu, before)
                before = None  # later requests in the same chunk see the state after this one
                cls = response_class(pdu.command_id)
                if cls is None:
                    continue
                # The server's answer: the response of the request's kind. A bind is refused
                # on odd sequence numbers (to cover both outcomes) and when an earlier bind
                # in the same read already succeeded (the server answers one bind at a time).
                status = CommandStatus.ESME_ROK
                if pdu.command_id in _BIND_IDS and (
                    pdu.sequence_number % 2 or smsc.state is not BindState.OPEN
                ):
                    status = CommandStatus.ESME_RBINDFAIL
                reply = cls(pdu.sequence_number, status)  # type: ignore[call-arg]
                if cls is UnbindResp:
                    # Answered once what came before it is answered (the server waits for
                    # its requests in progress), so after the rest of this read.
                    unbinds.append(reply)
                    continue
                if status == CommandStatus.ESME_ROK:
                    reply = _with_body(reply)
                smsc.send(reply)
            case ProtocolErrorOccurred(error=error):
                _check_error(error)
                if error.reply is not None and smsc.state is not BindState.CLOSED:
                    smsc.send(error.reply)
            case ResponseReceived() | ConnectionClosed():
                pass
    for reply in unbinds:
        if smsc.state is BindState.UNBINDING:
            smsc.send(reply)
    # Bounded: at most one partial PDU buffered, our window respected, every request answered.
    assert smsc.outstanding <= _CONFIG.window
    assert smsc._framer.buffered < _CONFIG.max_command_length
    if smsc.state is not BindState.CLOSED:
        assert smsc.peer_outstanding == 0, smsc.peer_outstanding


_BIND_IDS = frozenset(b.command_id for b in _BINDS)


def _check_allowed(pdu: Pdu, before: BindState | None) -> None:
    if before is None:
        return
    if pdu.command_id in _TRANSMITS:
        assert before in _TX_STATES, f"{pdu.command_id.name} accepted in {before.name}"
    if pdu.command_id in _BIND_IDS:
        assert before is BindState.OPEN, f"bind accepted in {before.name}"


def _with_body(reply: Pdu) -> Pdu:
    if hasattr(reply, "message_id") and reply.command_id != CommandId.QUERY_SM_RESP:
        return dataclasses.replace(reply, message_id="m1")  # type: ignore[call-arg]
    return reply


# --- text --------------------------------------------------------------------------------------

_ENCODINGS: tuple[Encoding | None, ...] = (
    None,
    Encoding.GSM7,
    Encoding.LATIN1,
    Encoding.UCS2,
    None,
    None,
)
_CONCATENATIONS = tuple(Concatenation)


def text(data: bytes) -> None:
    if len(data) < 2:
        return
    flags, data_coding, rest = data[0], data[1], data[2:]
    # Random bytes as an inbound short_message.
    udhi = bool(flags & 1)
    packed = bool(flags & 2)
    try:
        part = decode_short_message(rest, data_coding=data_coding, udhi=udhi, packed=packed)
    except ValueError:
        assert udhi, "a ValueError without a UDH to blame"
    else:
        part.text()
    # The same bytes as UTF-8 (invalid sequences replaced) as an outbound text.
    body = rest.decode("utf-8", errors="replace")
    if flags & 4:
        body = rest.decode("utf-16-le", errors="replace") if len(rest) % 2 == 0 else body
    if not body:
        return
    encoding = _ENCODINGS[(flags >> 3) % len(_ENCODINGS)]
    ref16 = bool(flags & 0x40)
    try:
        encoded = encode_text(
            body, encoding=encoding, transliterate=bool(flags & 0x80), ref16=ref16
        )
    except UnencodableText:
        assert encoding is not None, "UnencodableText for an automatically chosen encoding"
        return
    segments = encoded.segments
    assert segments, "no segments"
    limit = encoded.characters_per_segment
    for segment in segments:
        assert 0 < segment.units <= limit or len(segments) == 1, (segment, limit)
    if not encoded.replaced:
        assert encoded.text == body, "text changed without a reported replacement"
    if encoded.encoding is not Encoding.BINARY and encoded.national is None:
        joined = b"".join(s.payload for s in segments)
        assert decode_body(encoded.encoding, joined) == encoded.text
    concatenation = _CONCATENATIONS[data_coding % len(_CONCATENATIONS)]
    if concatenation is Concatenation.UDH16 and not ref16:
        concatenation = Concatenation.UDH8
    if concatenation is Concatenation.PAYLOAD and encoded.national is not None:
        concatenation = Concatenation.SAR
    indexes = [0] if concatenation is Concatenation.PAYLOAD else range(len(segments))
    for index in indexes:
        rendered = render_short_message(
            encoded, index, reference=data_coding, packed=packed, concatenation=concatenation
        )
        if packed or encoded.encoding is not Encoding.GSM7:
            # TS 23.040 §9.2.3.16: 140 octets of user data (unpacked GSM 7-bit is one septet
            # per octet, packed by the SMSC, so it may be longer on the SMPP wire).
            assert len(rendered.short_message) <= 140, len(rendered.short_message)
        if concatenation is Concatenation.PAYLOAD:
            continue
        back = decode_short_message(
            rendered.short_message,
            data_coding=rendered.data_coding,
            udhi=bool(rendered.esm_class_flags & 0x40),
            packed=packed,
            sar=rendered.sar,
        )
        assert back.text() == segments[index].text or encoded.encoding is Encoding.BINARY, (
            back.text(),
            segments[index].text,
        )
        if len(segments) > 1:
            assert back.concat is not None and back.concat[1:] == (len(segments), index + 1)


TARGETS: dict[str, Target] = {"decoder": decoder, "session": session, "text": text}
