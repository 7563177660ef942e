"""Optional parameters (TLVs) of SMPP 3.4 §5.3: tags, value types, encode and decode.

On a PDU the TLVs are a ``Mapping[int, TlvValue]``: a known tag is keyed by its ``Tlv`` member and
decoded per ``TLV_TYPES``; an unknown tag (vendor specific, SMPP 5.0) is keyed by its plain int and
kept as the raw value bytes, so that relaying a PDU re-encodes it byte for byte, in original order.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from enum import Enum, IntEnum
from types import MappingProxyType
from typing import NamedTuple

from gateway.smpp.codes import CommandStatus
from gateway.smpp.errors import FieldError, LocalProtocolError

__all__ = [
    "TLV_TYPES",
    "NetworkErrorCode",
    "Tlv",
    "TlvType",
    "TlvValue",
    "decode_tlvs",
    "encode_tlvs",
]


class Tlv(IntEnum):
    """Every optional parameter tag of SMPP 3.4 §5.3.2 (table 5-3)."""

    DEST_ADDR_SUBUNIT = 0x0005
    DEST_NETWORK_TYPE = 0x0006
    DEST_BEARER_TYPE = 0x0007
    DEST_TELEMATICS_ID = 0x0008
    SOURCE_ADDR_SUBUNIT = 0x000D
    SOURCE_NETWORK_TYPE = 0x000E
    SOURCE_BEARER_TYPE = 0x000F
    SOURCE_TELEMATICS_ID = 0x0010
    QOS_TIME_TO_LIVE = 0x0017
    PAYLOAD_TYPE = 0x0019
    ADDITIONAL_STATUS_INFO_TEXT = 0x001D
    RECEIPTED_MESSAGE_ID = 0x001E
    MS_MSG_WAIT_FACILITIES = 0x0030
    PRIVACY_INDICATOR = 0x0201
    SOURCE_SUBADDRESS = 0x0202
    DEST_SUBADDRESS = 0x0203
    USER_MESSAGE_REFERENCE = 0x0204
    USER_RESPONSE_CODE = 0x0205
    SOURCE_PORT = 0x020A
    DESTINATION_PORT = 0x020B
    SAR_MSG_REF_NUM = 0x020C
    LANGUAGE_INDICATOR = 0x020D
    SAR_TOTAL_SEGMENTS = 0x020E
    SAR_SEGMENT_SEQNUM = 0x020F
    SC_INTERFACE_VERSION = 0x0210
    CALLBACK_NUM_PRES_IND = 0x0302
    CALLBACK_NUM_ATAG = 0x0303
    NUMBER_OF_MESSAGES = 0x0304
    CALLBACK_NUM = 0x0381
    DPF_RESULT = 0x0420
    SET_DPF = 0x0421
    MS_AVAILABILITY_STATUS = 0x0422
    NETWORK_ERROR_CODE = 0x0423
    MESSAGE_PAYLOAD = 0x0424
    DELIVERY_FAILURE_REASON = 0x0425
    MORE_MESSAGES_TO_SEND = 0x0426
    MESSAGE_STATE = 0x0427
    USSD_SERVICE_OP = 0x0501
    DISPLAY_TIME = 0x1201
    SMS_SIGNAL = 0x1203
    MS_VALIDITY = 0x1204
    ALERT_ON_MESSAGE_DELIVERY = 0x130C
    ITS_REPLY_TYPE = 0x1380
    ITS_SESSION_INFO = 0x1383


class NetworkErrorCode(NamedTuple):
    """network_error_code (SMPP 3.4 §5.3.2.31): a network type octet and a 2-octet error code.

    network_type: 1 ANSI-136, 2 IS-95, 3 GSM, 4 ANSI-41, other values reserved.
    """

    network_type: int
    error_code: int


TlvValue = int | str | bytes | NetworkErrorCode


class TlvType(Enum):
    """How a TLV value is laid out on the wire (SMPP 3.4 §3.1, §5.3.2)."""

    INT1 = 1
    INT2 = 2
    INT4 = 4
    CSTRING = "cstring"
    OCTETS = "octets"
    NETWORK_ERROR_CODE = "network_error_code"

    __hash__ = object.__hash__  # identity, in C: looked up per integer TLV (as state.Role)


_I, _C, _O = TlvType.INT1, TlvType.CSTRING, TlvType.OCTETS

TLV_TYPES: Mapping[Tlv, TlvType] = MappingProxyType(
    {
        Tlv.DEST_ADDR_SUBUNIT: _I,
        Tlv.DEST_NETWORK_TYPE: _I,
        Tlv.DEST_BEARER_TYPE: _I,
        Tlv.DEST_TELEMATICS_ID: TlvType.INT2,
        Tlv.SOURCE_ADDR_SUBUNIT: _I,
        Tlv.SOURCE_NETWORK_TYPE: _I,
        Tlv.SOURCE_BEARER_TYPE: _I,
        # §5.3.2.13: one octet, unlike dest_telematics_id (§5.3.2.9) which has two.
        Tlv.SOURCE_TELEMATICS_ID: _I,
        Tlv.QOS_TIME_TO_LIVE: TlvType.INT4,
        Tlv.PAYLOAD_TYPE: _I,
        Tlv.ADDITIONAL_STATUS_INFO_TEXT: _C,
        Tlv.RECEIPTED_MESSAGE_ID: _C,
        Tlv.MS_MSG_WAIT_FACILITIES: _I,
        Tlv.PRIVACY_INDICATOR: _I,
        Tlv.SOURCE_SUBADDRESS: _O,
        Tlv.DEST_SUBADDRESS: _O,
        Tlv.USER_MESSAGE_REFERENCE: TlvType.INT2,
        Tlv.USER_RESPONSE_CODE: _I,
        Tlv.SOURCE_PORT: TlvType.INT2,
        Tlv.DESTINATION_PORT: TlvType.INT2,
        Tlv.SAR_MSG_REF_NUM: TlvType.INT2,
        Tlv.LANGUAGE_INDICATOR: _I,
        Tlv.SAR_TOTAL_SEGMENTS: _I,
        Tlv.SAR_SEGMENT_SEQNUM: _I,
        Tlv.SC_INTERFACE_VERSION: _I,
        Tlv.CALLBACK_NUM_PRES_IND: _I,
        Tlv.CALLBACK_NUM_ATAG: _O,
        Tlv.NUMBER_OF_MESSAGES: _I,
        Tlv.CALLBACK_NUM: _O,
        Tlv.DPF_RESULT: _I,
        Tlv.SET_DPF: _I,
        Tlv.MS_AVAILABILITY_STATUS: _I,
        Tlv.NETWORK_ERROR_CODE: TlvType.NETWORK_ERROR_CODE,
        Tlv.MESSAGE_PAYLOAD: _O,
        Tlv.DELIVERY_FAILURE_REASON: _I,
        Tlv.MORE_MESSAGES_TO_SEND: _I,
        Tlv.MESSAGE_STATE: _I,
        # §5.3.2.44 calls it a 1-octet "Octet String", but its values are a numeric code
        # (0 PSSD indication ... 19 USSN confirm); every peer we know treats it as an integer.
        Tlv.USSD_SERVICE_OP: _I,
        Tlv.DISPLAY_TIME: _I,
        Tlv.SMS_SIGNAL: TlvType.INT2,
        Tlv.MS_VALIDITY: _I,
        # §5.3.2.41: no value at all (length 0); its presence is the information.
        Tlv.ALERT_ON_MESSAGE_DELIVERY: _O,
        Tlv.ITS_REPLY_TYPE: _I,
        Tlv.ITS_SESSION_INFO: _O,
    }
)

_TLV_HEADER = struct.Struct(">HH")
_INT_STRUCTS = {
    TlvType.INT1: struct.Struct(">B"),
    TlvType.INT2: struct.Struct(">H"),
    TlvType.INT4: struct.Struct(">I"),
}
_NETWORK_ERROR_CODE = struct.Struct(">BH")
# Lookup by raw tag, built once: calling Tlv(tag) costs an enum lookup per TLV.
_KNOWN: dict[int, tuple[Tlv, TlvType]] = {int(t): (t, TLV_TYPES[t]) for t in Tlv}


def decode_tlvs(data: bytes, offset: int, end: int) -> dict[int, TlvValue]:
    """Decode the TLVs in ``data[offset:end]`` (SMPP 3.4 §3.2.4: tag, length, value).

    Raises ``FieldError`` for a truncated TLV (ESME_RINVOPTPARSTREAM) or a known tag whose length
    does not fit its type (ESME_RINVPARLEN). A repeated tag keeps its first position and its last
    value: the spec allows one of each, and last-wins is what most SMSCs do.
    """
    tlvs: dict[int, TlvValue] = {}
    unpack_header = _TLV_HEADER.unpack_from
    while offset < end:
        if end - offset < 4:
            raise FieldError("truncated TLV header", CommandStatus.ESME_RINVOPTPARSTREAM)
        tag, length = unpack_header(data, offset)
        offset += 4
        stop = offset + length
        if stop > end:
            raise FieldError(
                f"TLV 0x{tag:04X} runs past the body", CommandStatus.ESME_RINVOPTPARSTREAM
            )
        known = _KNOWN.get(tag)
        if known is None:
            tlvs[tag] = data[offset:stop]
        else:
            member, kind = known
            tlvs[member] = _decode_value(member, kind, data[offset:stop])
        offset = stop
    return tlvs


def _decode_value(tag: Tlv, kind: TlvType, raw: bytes) -> TlvValue:
    if kind is TlvType.OCTETS:
        return raw
    if kind is TlvType.CSTRING:
        # Tolerance: many SMSCs omit the NUL of receipted_message_id; the TLV length already
        # delimits the value, so take everything up to the first NUL, if any.
        nul = raw.find(0)
        return (raw if nul < 0 else raw[:nul]).decode("latin-1")
    if kind is TlvType.NETWORK_ERROR_CODE:
        if len(raw) != 3:
            raise FieldError(f"{tag.name} must be 3 octets", CommandStatus.ESME_RINVPARLEN)
        return NetworkErrorCode(*_NETWORK_ERROR_CODE.unpack(raw))
    int_struct = _INT_STRUCTS[kind]
    if len(raw) != int_struct.size:
        raise FieldError(
            f"{tag.name} must be {int_struct.size} octets, got {len(raw)}",
            CommandStatus.ESME_RINVPARLEN,
        )
    value: int = int_struct.unpack(raw)[0]
    return value


def encode_tlvs(tlvs: Mapping[int, TlvValue]) -> bytes:
    """Encode TLVs in mapping order. Raises ``LocalProtocolError`` for a value of the wrong type."""
    parts: list[bytes] = []
    pack_header = _TLV_HEADER.pack
    for tag, value in tlvs.items():
        known = _KNOWN.get(tag)
        if known is None:
            if not isinstance(value, bytes | bytearray):
                raise LocalProtocolError(f"unknown TLV 0x{tag:04X} needs a bytes value")
            raw = bytes(value)
        else:
            raw = _encode_value(known[0], known[1], value)
        if not 0 <= tag <= 0xFFFF or len(raw) > 0xFFFF:
            raise LocalProtocolError(f"TLV 0x{tag:04X} tag or length out of range")
        parts.append(pack_header(tag, len(raw)))
        parts.append(raw)
    return b"".join(parts)


def _encode_value(tag: Tlv, kind: TlvType, value: TlvValue) -> bytes:
    if kind is TlvType.NETWORK_ERROR_CODE:
        if isinstance(value, tuple):
            try:
                return _NETWORK_ERROR_CODE.pack(value[0], value[1])
            except struct.error as exc:
                raise LocalProtocolError(f"{tag.name}: {exc}") from exc
        if isinstance(value, bytes) and len(value) == 3:
            return value
    elif kind is TlvType.OCTETS:
        if isinstance(value, bytes | bytearray):
            return bytes(value)
    elif kind is TlvType.CSTRING:
        if isinstance(value, str):
            try:
                raw = value.encode("latin-1")
            except UnicodeEncodeError as exc:
                raise LocalProtocolError(f"{tag.name}: {exc}") from exc
            if 0 in raw:
                raise LocalProtocolError(f"{tag.name} contains a NUL")
            return raw + b"\x00"
    elif isinstance(value, int) and not isinstance(value, bool):
        try:
            return _INT_STRUCTS[kind].pack(value)
        except struct.error as exc:
            raise LocalProtocolError(f"{tag.name}={value}: {exc}") from exc
    raise LocalProtocolError(f"{tag.name}: {type(value).__name__} value is not a {kind.name}")


def sar_of(tlvs: Mapping[int, TlvValue]) -> tuple[int, int, int] | None:
    """(reference, total, sequence) from the SAR TLVs (SMPP 3.4 §5.3.2.22-24), if all three."""
    ref = tlvs.get(Tlv.SAR_MSG_REF_NUM)
    total = tlvs.get(Tlv.SAR_TOTAL_SEGMENTS)
    seq = tlvs.get(Tlv.SAR_SEGMENT_SEQNUM)
    if isinstance(ref, int) and isinstance(total, int) and isinstance(seq, int):
        return ref, total, seq
    return None
