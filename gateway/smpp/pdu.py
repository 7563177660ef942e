"""Every SMPP 3.4 PDU as a frozen dataclass, and the generic codec over their field tables.

Each class lists its mandatory fields in wire order (SMPP 3.4 chapter 4); ``fields.compile_steps``
turns that table into the codec once, at import. ``encode`` and ``decode`` work on one whole PDU
(header included); splitting a byte stream into PDUs is ``framing.Framer``'s job.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

from gateway.slots import slot_init, slot_setter
from gateway.smpp.codes import RESPONSE_BIT, CommandId, CommandStatus
from gateway.smpp.errors import FieldError, LocalProtocolError, RemoteProtocolError
from gateway.smpp.fields import (
    DestAddress,
    DestFlag,
    UnsuccessSme,
    compile_codec,
    cstring,
    dest_addresses,
    short_message,
    uint8,
    unsuccess_smes,
)
from gateway.smpp.tlv import TlvValue

__all__ = [
    "HEADER_LENGTH",
    "PDU_CLASSES",
    "AlertNotification",
    "BindReceiver",
    "BindReceiverResp",
    "BindTransceiver",
    "BindTransceiverResp",
    "BindTransmitter",
    "BindTransmitterResp",
    "CancelSm",
    "CancelSmResp",
    "DataSm",
    "DataSmResp",
    "DeliverSm",
    "DeliverSmResp",
    "DestAddress",
    "DestFlag",
    "EnquireLink",
    "EnquireLinkResp",
    "GenericNack",
    "Outbind",
    "Pdu",
    "QuerySm",
    "QuerySmResp",
    "ReplaceSm",
    "ReplaceSmResp",
    "SubmitMulti",
    "SubmitMultiResp",
    "SubmitSm",
    "SubmitSmResp",
    "Unbind",
    "UnbindResp",
    "UnsuccessSme",
    "decode",
    "encode",
    "error_reply",
    "response_class",
]

# SMPP 3.4 §3.2: command_length, command_id, command_status, sequence_number.
HEADER = struct.Struct(">IIII")
HEADER_LENGTH = HEADER.size
_pack_header = HEADER.pack
_unpack_header = HEADER.unpack_from

_S = CommandStatus


def _tlvs() -> Any:
    return field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Pdu:
    """Base of every PDU. ``sequence_number`` 0 on a request means "let the session assign one"."""

    command_id: ClassVar[CommandId]
    # SMPP 3.4 §4.1.2 and §4.4.2: these responses carry no body when command_status is non-zero.
    omit_body_on_error: ClassVar[bool] = False

    sequence_number: int = 0
    command_status: int = 0


# --- session management (SMPP 3.4 §4.1, §4.2, §4.3, §4.11) --------------------------------


@dataclass(frozen=True, slots=True)
class _Bind(Pdu):
    system_id: str = cstring(16, _S.ESME_RINVSYSID)
    password: str = cstring(9, _S.ESME_RINVPASWD)
    system_type: str = cstring(13, _S.ESME_RINVSYSTYP)
    interface_version: int = uint8(0x34)
    addr_ton: int = uint8()
    addr_npi: int = uint8()
    address_range: str = cstring(41)


@dataclass(frozen=True, slots=True)
class _BindResp(Pdu):
    omit_body_on_error = True

    system_id: str = cstring(16, _S.ESME_RINVSYSID)
    # sc_interface_version is the one TLV defined here (SMPP 3.4 §4.1.2).
    tlvs: Mapping[int, TlvValue] = _tlvs()


@dataclass(frozen=True, slots=True)
class BindTransmitter(_Bind):
    command_id = CommandId.BIND_TRANSMITTER


@dataclass(frozen=True, slots=True)
class BindTransmitterResp(_BindResp):
    command_id = CommandId.BIND_TRANSMITTER_RESP


@dataclass(frozen=True, slots=True)
class BindReceiver(_Bind):
    command_id = CommandId.BIND_RECEIVER


@dataclass(frozen=True, slots=True)
class BindReceiverResp(_BindResp):
    command_id = CommandId.BIND_RECEIVER_RESP


@dataclass(frozen=True, slots=True)
class BindTransceiver(_Bind):
    command_id = CommandId.BIND_TRANSCEIVER


@dataclass(frozen=True, slots=True)
class BindTransceiverResp(_BindResp):
    # §4.1.6 lacks the note of §4.1.2/§4.1.4, but an error response has no SMSC to name either;
    # peers handle a bare header, as they must for the other two binds.
    command_id = CommandId.BIND_TRANSCEIVER_RESP


@dataclass(frozen=True, slots=True)
class Outbind(Pdu):
    command_id = CommandId.OUTBIND

    system_id: str = cstring(16, _S.ESME_RINVSYSID)
    password: str = cstring(9, _S.ESME_RINVPASWD)


@dataclass(frozen=True, slots=True)
class Unbind(Pdu):
    command_id = CommandId.UNBIND


@dataclass(frozen=True, slots=True)
class UnbindResp(Pdu):
    command_id = CommandId.UNBIND_RESP


@dataclass(frozen=True, slots=True)
class GenericNack(Pdu):
    command_id = CommandId.GENERIC_NACK


@dataclass(frozen=True, slots=True)
class EnquireLink(Pdu):
    command_id = CommandId.ENQUIRE_LINK


@dataclass(frozen=True, slots=True)
class EnquireLinkResp(Pdu):
    command_id = CommandId.ENQUIRE_LINK_RESP


# --- message submission and delivery (SMPP 3.4 §4.4, §4.5, §4.6, §4.7) --------------------


@dataclass(frozen=True, slots=True)
class _ShortMessageBody(Pdu):
    # Shared layout of submit_sm (§4.4.1) and deliver_sm (§4.6.1); sm_length is derived.
    service_type: str = cstring(6, _S.ESME_RINVSERTYP)
    source_addr_ton: int = uint8()
    source_addr_npi: int = uint8()
    source_addr: str = cstring(21, _S.ESME_RINVSRCADR)
    dest_addr_ton: int = uint8()
    dest_addr_npi: int = uint8()
    destination_addr: str = cstring(21, _S.ESME_RINVDSTADR)
    esm_class: int = uint8()
    protocol_id: int = uint8()
    priority_flag: int = uint8()
    # §7.1: absolute or relative time, 16 characters, or NULL (empty) for "immediate" / default.
    schedule_delivery_time: str = cstring(17, _S.ESME_RINVSCHED)
    validity_period: str = cstring(17, _S.ESME_RINVEXPIRY)
    registered_delivery: int = uint8()
    replace_if_present_flag: int = uint8()
    data_coding: int = uint8()
    sm_default_msg_id: int = uint8()
    short_message: bytes = short_message()
    tlvs: Mapping[int, TlvValue] = _tlvs()


@dataclass(frozen=True, slots=True)
class _MessageIdResp(Pdu):
    message_id: str = cstring(65, _S.ESME_RINVMSGID)
    # SMPP 3.4 defines no TLVs for submit_sm_resp/deliver_sm_resp, SMPP 5.0 §4.2.5 does; accept
    # them rather than refuse a response from a newer peer.
    tlvs: Mapping[int, TlvValue] = _tlvs()


@dataclass(frozen=True, slots=True)
class SubmitSm(_ShortMessageBody):
    command_id = CommandId.SUBMIT_SM


@dataclass(frozen=True, slots=True)
class SubmitSmResp(_MessageIdResp):
    command_id = CommandId.SUBMIT_SM_RESP
    omit_body_on_error = True


@dataclass(frozen=True, slots=True)
class DeliverSm(_ShortMessageBody):
    command_id = CommandId.DELIVER_SM


@dataclass(frozen=True, slots=True)
class DeliverSmResp(_MessageIdResp):
    # §4.6.2: message_id is unused and set to NULL.
    command_id = CommandId.DELIVER_SM_RESP


@dataclass(frozen=True, slots=True)
class DataSmResp(_MessageIdResp):
    command_id = CommandId.DATA_SM_RESP


@dataclass(frozen=True, slots=True)
class SubmitMulti(Pdu):
    command_id = CommandId.SUBMIT_MULTI

    service_type: str = cstring(6, _S.ESME_RINVSERTYP)
    source_addr_ton: int = uint8()
    source_addr_npi: int = uint8()
    source_addr: str = cstring(21, _S.ESME_RINVSRCADR)
    dest_addresses: tuple[DestAddress, ...] = dest_addresses()
    esm_class: int = uint8()
    protocol_id: int = uint8()
    priority_flag: int = uint8()
    schedule_delivery_time: str = cstring(17, _S.ESME_RINVSCHED)
    validity_period: str = cstring(17, _S.ESME_RINVEXPIRY)
    registered_delivery: int = uint8()
    replace_if_present_flag: int = uint8()
    data_coding: int = uint8()
    sm_default_msg_id: int = uint8()
    short_message: bytes = short_message()
    tlvs: Mapping[int, TlvValue] = _tlvs()


@dataclass(frozen=True, slots=True)
class SubmitMultiResp(Pdu):
    command_id = CommandId.SUBMIT_MULTI_RESP

    message_id: str = cstring(65, _S.ESME_RINVMSGID)
    unsuccess_sme: tuple[UnsuccessSme, ...] = unsuccess_smes()
    tlvs: Mapping[int, TlvValue] = _tlvs()


@dataclass(frozen=True, slots=True)
class DataSm(Pdu):
    command_id = CommandId.DATA_SM

    service_type: str = cstring(6, _S.ESME_RINVSERTYP)
    source_addr_ton: int = uint8()
    source_addr_npi: int = uint8()
    # §4.7.1: data_sm addresses may be up to 64 characters, unlike submit_sm's 20.
    source_addr: str = cstring(65, _S.ESME_RINVSRCADR)
    dest_addr_ton: int = uint8()
    dest_addr_npi: int = uint8()
    destination_addr: str = cstring(65, _S.ESME_RINVDSTADR)
    esm_class: int = uint8()
    registered_delivery: int = uint8()
    data_coding: int = uint8()
    tlvs: Mapping[int, TlvValue] = _tlvs()


# --- ancillary operations (SMPP 3.4 §4.8, §4.9, §4.10, §4.12) ------------------------------


@dataclass(frozen=True, slots=True)
class QuerySm(Pdu):
    command_id = CommandId.QUERY_SM

    message_id: str = cstring(65, _S.ESME_RINVMSGID)
    source_addr_ton: int = uint8()
    source_addr_npi: int = uint8()
    source_addr: str = cstring(21, _S.ESME_RINVSRCADR)


@dataclass(frozen=True, slots=True)
class QuerySmResp(Pdu):
    command_id = CommandId.QUERY_SM_RESP

    message_id: str = cstring(65, _S.ESME_RINVMSGID)
    final_date: str = cstring(17)
    message_state: int = uint8()
    error_code: int = uint8()


@dataclass(frozen=True, slots=True)
class CancelSm(Pdu):
    command_id = CommandId.CANCEL_SM

    service_type: str = cstring(6, _S.ESME_RINVSERTYP)
    message_id: str = cstring(65, _S.ESME_RINVMSGID)
    source_addr_ton: int = uint8()
    source_addr_npi: int = uint8()
    source_addr: str = cstring(21, _S.ESME_RINVSRCADR)
    dest_addr_ton: int = uint8()
    dest_addr_npi: int = uint8()
    destination_addr: str = cstring(21, _S.ESME_RINVDSTADR)


@dataclass(frozen=True, slots=True)
class CancelSmResp(Pdu):
    command_id = CommandId.CANCEL_SM_RESP


@dataclass(frozen=True, slots=True)
class ReplaceSm(Pdu):
    command_id = CommandId.REPLACE_SM

    message_id: str = cstring(65, _S.ESME_RINVMSGID)
    source_addr_ton: int = uint8()
    source_addr_npi: int = uint8()
    source_addr: str = cstring(21, _S.ESME_RINVSRCADR)
    schedule_delivery_time: str = cstring(17, _S.ESME_RINVSCHED)
    validity_period: str = cstring(17, _S.ESME_RINVEXPIRY)
    registered_delivery: int = uint8()
    sm_default_msg_id: int = uint8()
    short_message: bytes = short_message()


@dataclass(frozen=True, slots=True)
class ReplaceSmResp(Pdu):
    command_id = CommandId.REPLACE_SM_RESP


@dataclass(frozen=True, slots=True)
class AlertNotification(Pdu):
    command_id = CommandId.ALERT_NOTIFICATION

    source_addr_ton: int = uint8()
    source_addr_npi: int = uint8()
    source_addr: str = cstring(65, _S.ESME_RINVSRCADR)
    esme_addr_ton: int = uint8()
    esme_addr_npi: int = uint8()
    esme_addr: str = cstring(65, _S.ESME_RINVDSTADR)
    tlvs: Mapping[int, TlvValue] = _tlvs()


# --- the codec -------------------------------------------------------------------------------


class _Codec:
    """Everything encode/decode need about one PDU class, computed once."""

    __slots__ = (
        "cls",
        "command_id",
        "decode_body",
        "encode_body",
        "is_response",
        "omit_body",
        "with_sequence",
    )

    def __init__(self, cls: type[Pdu]) -> None:
        names = [f.name for f in dataclasses.fields(cls)]
        has_tlvs = names[-1] == "tlvs"
        # decode builds instances in field order: the header fields, the body table, the TLVs.
        if names[:2] != ["sequence_number", "command_status"] or "tlvs" in names[:-1]:
            raise TypeError(f"{cls.__name__}: fields out of wire order: {names}")
        self.cls = cls
        self.command_id = int(cls.command_id)
        self.decode_body, self.encode_body = compile_codec(cls, has_tlvs=has_tlvs)
        self.is_response = bool(self.command_id & RESPONSE_BIT)
        self.omit_body = cls.omit_body_on_error
        self.with_sequence = _compile_with_sequence(cls, names)


def _compile_with_sequence(cls: type[Pdu], names: list[str]) -> Callable[[Pdu, int], Pdu]:
    """A copy of a PDU with another sequence number, for the session to number a request.
    `dataclasses.replace` costs about 7 us on a submit_sm (it collects the fields, then runs
    the frozen __init__); setting the slots of a new instance through their descriptors costs
    a fraction of it, and every request a node sends goes through it. The source was built
    through __init__ already, so nothing is skipped that was not checked."""
    namespace: dict[str, Any] = {"new": object.__new__, "cls": cls}
    lines = []
    for i, name in enumerate(names):
        namespace[f"set{i}"] = slot_setter(cls, name)
        value = "sequence_number" if name == "sequence_number" else f"pdu.{name}"
        lines.append(f"    set{i}(copy, {value})")
    source = (
        "def with_sequence(pdu, sequence_number):\n"
        "    copy = new(cls)\n" + "\n".join(lines) + "\n"
        "    return copy\n"
    )
    exec(source, namespace)  # noqa: S102 - generated from the class's own field names
    function: Callable[[Pdu, int], Pdu] = namespace["with_sequence"]
    return function


_ALL_CLASSES: tuple[type[Pdu], ...] = (
    GenericNack,
    BindReceiver,
    BindReceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    QuerySm,
    QuerySmResp,
    SubmitSm,
    SubmitSmResp,
    DeliverSm,
    DeliverSmResp,
    Unbind,
    UnbindResp,
    ReplaceSm,
    ReplaceSmResp,
    CancelSm,
    CancelSmResp,
    BindTransceiver,
    BindTransceiverResp,
    Outbind,
    EnquireLink,
    EnquireLinkResp,
    SubmitMulti,
    SubmitMultiResp,
    AlertNotification,
    DataSm,
    DataSmResp,
)
for _cls in _ALL_CLASSES:  # built for every PDU sent and every response: see gateway.slots
    slot_init(_cls)
_CODECS: dict[int, _Codec] = {int(c.command_id): _Codec(c) for c in _ALL_CLASSES}
_BY_CLASS: dict[type[Pdu], _Codec] = {c.cls: c for c in _CODECS.values()}

PDU_CLASSES: Mapping[int, type[Pdu]] = MappingProxyType({k: c.cls for k, c in _CODECS.items()})


def response_class(command_id: int) -> type[Pdu] | None:
    """The response class of a request command id (None for outbind, alert_notification and
    responses, which are never answered but by generic_nack)."""
    if command_id & RESPONSE_BIT:
        return None
    codec = _CODECS.get(command_id | RESPONSE_BIT)
    return codec.cls if codec is not None else None


def error_reply(command_id: int, sequence_number: int, command_status: int) -> Pdu:
    """The PDU answering a request we refuse: its own response carrying the status when the
    command has one, else generic_nack (SMPP 3.4 §4.3)."""
    cls = response_class(command_id) or GenericNack
    return cls(sequence_number, command_status)


def with_sequence(pdu: Pdu, sequence_number: int) -> Pdu:
    """`pdu` numbered `sequence_number` (a new instance: PDUs are immutable)."""
    codec = _BY_CLASS.get(type(pdu))
    if codec is None:
        return dataclasses.replace(pdu, sequence_number=sequence_number)
    return codec.with_sequence(pdu, sequence_number)


def encode(pdu: Pdu) -> bytes:
    """The wire form of one PDU, header included. Raises ``LocalProtocolError`` for a value that
    cannot be encoded (too long, out of range, wrong type)."""
    codec = _BY_CLASS.get(type(pdu))
    if codec is None:
        raise LocalProtocolError(f"not a PDU: {pdu!r}")
    try:
        status = pdu.command_status
        body = b"" if status and codec.omit_body else codec.encode_body(pdu)
        header = _pack_header(
            HEADER_LENGTH + len(body), codec.command_id, status, pdu.sequence_number
        )
    except (struct.error, UnicodeEncodeError, AttributeError, TypeError) as exc:
        raise LocalProtocolError(f"cannot encode {type(pdu).__name__}: {exc}") from exc
    return header + body


def decode(frame: bytes) -> Pdu:
    """Decode one complete PDU (header included).

    Raises ``RemoteProtocolError`` carrying the status and reply for anything malformed; it is
    ``fatal`` only when command_length disagrees with the frame, since then the stream is lost.
    """
    if frame.__class__ is not bytes:
        frame = bytes(frame)
    size = len(frame)
    if size < HEADER_LENGTH:
        raise RemoteProtocolError(
            f"PDU of {size} octets is shorter than its header",
            command_status=CommandStatus.ESME_RINVCMDLEN,
            reply=GenericNack(0, CommandStatus.ESME_RINVCMDLEN),
            fatal=True,
        )
    length, command_id, status, sequence = _unpack_header(frame)
    if length != size:
        raise RemoteProtocolError(
            f"command_length {length} but the PDU has {size} octets",
            command_status=CommandStatus.ESME_RINVCMDLEN,
            reply=GenericNack(sequence, CommandStatus.ESME_RINVCMDLEN),
            fatal=True,
        )
    codec = _CODECS.get(command_id)
    if codec is None:
        # SMPP 3.4 §4.3: an unknown command_id is answered by generic_nack / ESME_RINVCMDID.
        raise RemoteProtocolError(
            f"unknown command_id 0x{command_id:08X}",
            command_status=CommandStatus.ESME_RINVCMDID,
            reply=GenericNack(sequence, CommandStatus.ESME_RINVCMDID),
        )
    if size == HEADER_LENGTH and codec.is_response:
        # Responses may come without a body: on error (§4.1.2, §4.4.2), and in practice from
        # peers that send a deliver_sm_resp with no message_id at all.
        return codec.cls(sequence, status)
    try:
        pdu: Pdu = codec.decode_body(frame, HEADER_LENGTH, size, sequence, status)
    except IndexError:
        # The compiled decoder peeks at data[o] without a bounds test: past the end means the
        # body stopped in the middle of a field.
        status = CommandStatus.ESME_RINVCMDLEN
        message = "body ends inside a field"
    except FieldError as exc:
        status = exc.command_status
        message = str(exc)
    else:
        return pdu
    raise RemoteProtocolError(
        f"{codec.cls.__name__}: {message}",
        command_status=status,
        reply=error_reply(command_id, sequence, status),
    )
