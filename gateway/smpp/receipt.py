"""Delivery receipts: the SMPP 3.4 Appendix B text and the receipt TLVs, parsed and formatted.

The text format is only "typical" in the spec (Appendix B says it is SMSC vendor specific), so
parsing is tolerant: fields in any order, keys in any case, sub/dlvrd/text optional, dates with or
without seconds. The TLVs receipted_message_id, message_state and network_error_code
(SMPP 3.4 §5.3.2.12, §5.3.2.35, §5.3.2.31) are structured and win over the text when present.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

from gateway.slots import slot_init
from gateway.smpp.pdu import DataSm, DeliverSm
from gateway.smpp.tlv import NetworkErrorCode, Tlv, TlvValue

__all__ = [
    "ESM_CLASS_MESSAGE_TYPE_MASK",
    "STAT_WORDS",
    "MessageState",
    "Receipt",
    "ReceiptParseError",
    "build_receipt_pdu",
    "format_receipt_text",
    "is_delivery_receipt",
    "is_intermediate_notification",
    "is_sme_acknowledgement",
    "parse_receipt",
]


class MessageState(IntEnum):
    """message_state values (SMPP 3.4 §5.2.28)."""

    ENROUTE = 1
    DELIVERED = 2
    EXPIRED = 3
    DELETED = 4
    UNDELIVERABLE = 5
    ACCEPTED = 6
    UNKNOWN = 7
    REJECTED = 8


# Appendix B / §5.2.28: the 7-letter "stat:" words of the receipt text.
STAT_WORDS: dict[MessageState, str] = {
    MessageState.ENROUTE: "ENROUTE",
    MessageState.DELIVERED: "DELIVRD",
    MessageState.EXPIRED: "EXPIRED",
    MessageState.DELETED: "DELETED",
    MessageState.UNDELIVERABLE: "UNDELIV",
    MessageState.ACCEPTED: "ACCEPTD",
    MessageState.UNKNOWN: "UNKNOWN",
    MessageState.REJECTED: "REJECTD",
}
# Parsing also takes the long names and spellings seen from real SMSCs.
_STATE_BY_WORD: dict[str, MessageState] = {
    **{word: state for state, word in STAT_WORDS.items()},
    **{state.name: state for state in MessageState},
    "DELIVER": MessageState.DELIVERED,
    "UNDELIVERED": MessageState.UNDELIVERABLE,
    "FAILED": MessageState.UNDELIVERABLE,
    "EXPIRD": MessageState.EXPIRED,
    "REJECTED": MessageState.REJECTED,
}

# §5.2.12: esm_class bits 5-2 give the message type of a deliver_sm / data_sm.
ESM_CLASS_MESSAGE_TYPE_MASK = 0b0011_1100
_SMSC_DELIVERY_RECEIPT = 0b0000_0100
_SME_DELIVERY_ACK = 0b0000_1000
_SME_MANUAL_ACK = 0b0001_0000
_INTERMEDIATE_NOTIFICATION = 0b0010_0000
# Appendix B: "text:" carries the first 20 characters of the original message.
RECEIPT_TEXT_LENGTH = 20


def is_delivery_receipt(esm_class: int) -> bool:
    """An SMSC delivery receipt (§5.2.12 message type 0001)."""
    return esm_class & ESM_CLASS_MESSAGE_TYPE_MASK == _SMSC_DELIVERY_RECEIPT


def is_intermediate_notification(esm_class: int) -> bool:
    """An intermediate delivery notification (§5.2.12 message type 1000)."""
    return esm_class & ESM_CLASS_MESSAGE_TYPE_MASK == _INTERMEDIATE_NOTIFICATION


def is_sme_acknowledgement(esm_class: int) -> bool:
    """An SME delivery or manual/user acknowledgement (§5.2.12 message types 0010, 0100)."""
    return esm_class & ESM_CLASS_MESSAGE_TYPE_MASK in (_SME_DELIVERY_ACK, _SME_MANUAL_ACK)


class ReceiptParseError(ValueError):
    """The PDU is not a delivery receipt we can read: no message id or no state anywhere."""


@slot_init
@dataclass(frozen=True, slots=True)
class Receipt:
    """One delivery receipt. Dates are as the SMSC wrote them: naive, in its own time zone."""

    message_id: str
    state: MessageState
    error_code: str = "000"
    submitted: int | None = None
    delivered: int | None = None
    submit_date: datetime | None = None
    done_date: datetime | None = None
    text: str = ""
    network_error: NetworkErrorCode | None = None


def _format_date(value: datetime) -> str:
    # YYMMDDhhmm; a third of strftime's cost, twice per receipt.
    return "%02d%02d%02d%02d%02d" % (  # noqa: UP031 - faster than an f-string here
        value.year % 100,
        value.month,
        value.day,
        value.hour,
        value.minute,
    )


def format_receipt_text(r: Receipt) -> bytes:
    """The Appendix B receipt text. Fields that are None are left out rather than invented."""
    parts = [f"id:{r.message_id}"]
    if r.submitted is not None:
        parts.append(f"sub:{r.submitted:03d}")
    if r.delivered is not None:
        parts.append(f"dlvrd:{r.delivered:03d}")
    if r.submit_date is not None:
        parts.append(f"submit date:{_format_date(r.submit_date)}")
    if r.done_date is not None:
        parts.append(f"done date:{_format_date(r.done_date)}")
    parts.append(f"stat:{STAT_WORDS[r.state]}")
    parts.append(f"err:{r.error_code}")
    parts.append(f"text:{_printable(r.text[:RECEIPT_TEXT_LENGTH])}")
    return " ".join(parts).encode("ascii")


def _printable(text: str) -> str:
    """The receipt travels as plain ASCII whatever the message's data_coding was (receivers
    parse it as text), so characters outside printable ASCII become '.'."""
    if text.isascii() and text.isprintable():  # the usual case, without a loop per character
        return text
    return "".join(c if " " <= c <= "~" else "." for c in text)


_KEY = re.compile(r"(?i)(?<![a-z_])(id|sub|dlvrd|submit[ _]date|done[ _]date|stat|err|text)\s*:")


def _fields(text: str) -> dict[str, str]:
    matches = list(_KEY.finditer(text))
    found: dict[str, str] = {}
    for i, match in enumerate(matches):
        key = match.group(1).lower().replace("_", " ")
        if key in found:
            continue  # a key word inside an earlier value (usually text:) is not a field
        if key == "text":
            # text: is free-form and may contain "id:" itself; it ends only where a field we
            # have not seen yet starts, which covers SMSCs that put text: before stat:/err:.
            seen = set(found) | {"text"}
            stop = next(
                (
                    m.start()
                    for m in matches[i + 1 :]
                    if m.group(1).lower().replace("_", " ") not in seen
                ),
                len(text),
            )
            found[key] = text[match.end() : stop].strip()
            continue
        stop = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        value = text[match.end() : stop].strip()
        found[key] = value.split()[0] if value else ""
    return found


def _parse_date(value: str | None) -> datetime | None:
    """YYMMDDhhmm or YYMMDDhhmmss. YY is 20YY: strptime's %y would put 69-99 in the 1900s,
    and no receipt can predate SMPP."""
    if not value or len(value) not in (10, 12) or not value.isdigit():
        return None
    n = [int(value[i : i + 2]) for i in range(0, len(value), 2)]
    try:
        # Naive on purpose: receipts carry the SMSC's local time and no zone.
        return datetime(2000 + n[0], n[1], n[2], n[3], n[4], n[5] if len(n) == 6 else 0)
    except ValueError:
        return None


def _parse_count(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _receipt_body(pdu: DeliverSm | DataSm) -> str:
    payload = pdu.tlvs.get(Tlv.MESSAGE_PAYLOAD)
    if isinstance(pdu, DeliverSm) and pdu.short_message:
        raw = pdu.short_message
    elif isinstance(payload, bytes):
        raw = payload
    else:
        raw = b""
    return raw.decode("latin-1")


def parse_receipt(pdu: DeliverSm | DataSm) -> Receipt:
    """Read a delivery receipt from a deliver_sm or data_sm, TLVs first, then the text.

    Raises ``ReceiptParseError`` when neither gives a message id and a state. It does not check
    esm_class: call ``is_delivery_receipt`` first to tell receipts from MO messages.
    """
    tlvs = pdu.tlvs
    tlv_id = tlvs.get(Tlv.RECEIPTED_MESSAGE_ID)
    fields = _fields(_receipt_body(pdu))

    message_id = tlv_id if isinstance(tlv_id, str) and tlv_id else fields.get("id", "")
    if not message_id:
        raise ReceiptParseError("no receipted_message_id TLV and no id: in the text")

    state = _state_from(tlvs.get(Tlv.MESSAGE_STATE), fields.get("stat"))
    if state is None:
        raise ReceiptParseError(f"receipt {message_id}: no message_state TLV and no stat:")

    network_error = tlvs.get(Tlv.NETWORK_ERROR_CODE)
    if not isinstance(network_error, NetworkErrorCode):
        network_error = None
    error_code = fields.get("err") or (
        f"{network_error.error_code:03d}" if network_error is not None else "000"
    )
    return Receipt(
        message_id=message_id,
        state=state,
        error_code=error_code,
        submitted=_parse_count(fields.get("sub")),
        delivered=_parse_count(fields.get("dlvrd")),
        submit_date=_parse_date(fields.get("submit date")),
        done_date=_parse_date(fields.get("done date")),
        text=fields.get("text", ""),
        network_error=network_error,
    )


def _state_from(tlv: TlvValue | None, word: str | None) -> MessageState | None:
    if isinstance(tlv, int) and not isinstance(tlv, NetworkErrorCode | bool):
        try:
            return MessageState(tlv)
        except ValueError:
            pass  # an out-of-range TLV value: fall back to the text
    if word:
        return _STATE_BY_WORD.get(word.upper())
    return None


def build_receipt_pdu(
    r: Receipt,
    *,
    source_addr: str,
    destination_addr: str,
    source_addr_ton: int = 0,
    source_addr_npi: int = 0,
    dest_addr_ton: int = 0,
    dest_addr_npi: int = 0,
    sequence_number: int = 0,
) -> DeliverSm:
    """A deliver_sm carrying ``r`` as both Appendix B text and TLVs (§4.6.1, §5.2.12).

    ``source_addr`` is the handset the original message went to, ``destination_addr`` the ESME
    address that sent it: a receipt travels back the way the message came.
    """
    tlvs: dict[int, TlvValue] = {
        Tlv.RECEIPTED_MESSAGE_ID: r.message_id,
        Tlv.MESSAGE_STATE: int(r.state),
    }
    if r.network_error is not None:
        tlvs[Tlv.NETWORK_ERROR_CODE] = r.network_error
    return DeliverSm(
        sequence_number=sequence_number,
        source_addr_ton=source_addr_ton,
        source_addr_npi=source_addr_npi,
        source_addr=source_addr,
        dest_addr_ton=dest_addr_ton,
        dest_addr_npi=dest_addr_npi,
        destination_addr=destination_addr,
        esm_class=_SMSC_DELIVERY_RECEIPT,
        short_message=format_receipt_text(r),
        tlvs=tlvs,
    )
