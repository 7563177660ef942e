"""The SMPP short_message field: rendering an encoded segment into it and parsing one back.

Outbound, a segment becomes UDH + body (with esm_class UDHI), or a bare body with SAR TLVs
(SMPP 3.4 §5.3.2.22-24), or the whole text in one message_payload TLV (§5.3.2.32). Inbound,
``decode_short_message`` returns the body still undecoded so that reassembly can join bodies
first: senders do split escape pairs and surrogate pairs across parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from gateway.text import gsm7
from gateway.text.codecs import Encoding, decode_body, encoding_for_data_coding
from gateway.text.frozen import positional_factory
from gateway.text.segment import EncodedText, capacity, fill_bits
from gateway.text.udh import Iei, InformationElement, concat_udh, parse_udh

# SMPP 3.4 §5.2.12 esm_class bit 6 (0x40): the short message begins with a UDH.
ESM_CLASS_UDHI: Final = 0x40
_SAR_MAX_REFERENCE: Final = 0xFFFF  # SMPP 3.4 §5.3.2.22 sar_msg_ref_num is 2 octets


class Concatenation(StrEnum):
    """How the parts of a multipart message are tied together for the upstream."""

    UDH8 = "udh8"  # TS 23.040 §9.2.3.24.1, 8-bit reference in the UDH
    UDH16 = "udh16"  # TS 23.040 §9.2.3.24.8, 16-bit reference in the UDH
    SAR = "sar"  # SMPP 3.4 sar_msg_ref_num / sar_total_segments / sar_segment_seqnum TLVs
    PAYLOAD = "payload"  # SMPP 3.4 message_payload TLV: the SMSC splits


@dataclass(frozen=True, slots=True)
class RenderedPart:
    """What goes into one submit_sm: the short_message and the fields that qualify it."""

    short_message: bytes
    esm_class_flags: int  # to OR into esm_class: 0x40 when a UDH is present
    data_coding: int
    sar: tuple[int, int, int] | None = None  # (sar_msg_ref_num, total, seqnum)
    message_payload: bytes | None = None


_new_part: Final = positional_factory(RenderedPart)  # hot path: see gateway.text.frozen
_GSM7: Final = Encoding.GSM7


def _body(encoded: EncodedText, payload: bytes, udh: int, packed: bool) -> bytes:
    if packed and encoded.encoding is Encoding.GSM7:
        return gsm7.pack_padded(payload, fill_bits(udh))
    return payload


def render_short_message(
    encoded: EncodedText,
    index: int,
    *,
    reference: int,
    packed: bool = True,
    concatenation: Concatenation = Concatenation.UDH8,
) -> RenderedPart:
    """Render segment ``index`` (0-based) of ``encoded``.

    GSM 7-bit is packed (``packed=True``, TS 23.038 §6.1.2.1.1) with fill bits so the body
    starts on a septet boundary after the UDH (TS 23.040 §9.2.3.24), or sent one septet per
    octet (``packed=False``), as many SMPP upstreams expect. A single-segment text carries no
    concatenation information. ``Concatenation.PAYLOAD`` renders the whole text at index 0.
    """
    segments = encoded.segments
    total = len(segments)
    if total == 1 and encoded.national is None and concatenation is not Concatenation.PAYLOAD:
        # Hot path: a single segment without national IEs has no UDH, and encode_text already
        # sized it for the single-segment limit.
        payload = segments[index].payload
        if packed and encoded.encoding is _GSM7:
            payload = gsm7.pack_padded(payload)
        return _new_part(payload, 0, encoded.data_coding, None, None)
    if concatenation is Concatenation.PAYLOAD:
        if index != 0:
            raise ValueError("message_payload carries the whole message: render index 0 only")
        if encoded.national is not None:
            raise ValueError("message_payload has no UDH to announce a national shift table")
        body = b"".join(segment.payload for segment in encoded.segments)
        return RenderedPart(b"", 0, encoded.data_coding, None, _body(encoded, body, 0, packed))
    if not 0 <= index < total:
        raise IndexError(f"segment index {index} out of range for {total} segments")
    segment = segments[index]
    sar: tuple[int, int, int] | None = None
    fits = True  # encode_text sized the segments for this UDH
    if total > 1 and concatenation is not Concatenation.SAR:
        if concatenation is Concatenation.UDH8 and encoded.national is None:
            # The common multipart case, without concat_udh's generality (TS 23.040
            # §9.2.3.24.1: UDHL 5, IEI 0x00, length 3, reference, total, sequence).
            if not 0 <= reference <= 0xFF:
                raise ValueError(f"8-bit concatenation reference out of range: {reference}")
            udh = bytes((5, Iei.CONCAT_8, 3, reference, total, index + 1))
        else:
            ref16 = concatenation is Concatenation.UDH16
            udh = concat_udh(
                reference,
                total,
                index + 1,
                ref16=ref16,
                national=encoded.national,
                locking=encoded.locking_shift,
                single=encoded.single_shift,
            )
            fits = ref16 <= encoded.ref16
    else:
        # SAR, or a single segment with national IEs: no concatenation IE, so the segment
        # (sized for one) always fits.
        if total > 1:
            if not 0 <= reference <= _SAR_MAX_REFERENCE:
                raise ValueError(f"sar_msg_ref_num out of range: {reference}")
            sar = (reference, total, index + 1)
        udh = (
            concat_udh(
                0,
                1,
                1,
                national=encoded.national,
                locking=encoded.locking_shift,
                single=encoded.single_shift,
            )
            if encoded.national is not None
            else b""
        )
    if not fits and segment.units > capacity(encoded.encoding, len(udh)):
        # A text split for an 8-bit reference rendered with a 16-bit one.
        raise ValueError(
            f"segment {index} holds {segment.units} units, more than fit after a "
            f"{len(udh)}-octet UDH; encode with ref16=True for UDH16"
        )
    return _new_part(
        udh + _body(encoded, segment.payload, len(udh), packed),
        ESM_CLASS_UDHI if udh else 0,
        encoded.data_coding,
        sar,
        None,
    )


@dataclass(frozen=True, slots=True)
class DecodedPart:
    """One inbound part, its text still encoded so that parts can be joined before decoding.

    ``body`` is the user data after any UDH: GSM 7-bit septets unpacked to one per octet, other
    encodings as received. ``concat`` is (reference, total, seq) from a concatenation IE or
    from SAR TLVs; None for a standalone message.
    """

    encoding: Encoding
    data_coding: int
    body: bytes
    concat: tuple[int, int, int] | None = None
    national_locking: int | None = None
    national_single: int | None = None
    elements: tuple[InformationElement, ...] = ()

    def text(self) -> str | None:
        """The text of this part alone (None for binary)."""
        return decode_body(
            self.encoding, self.body, locking=self.national_locking, single=self.national_single
        )


_SEPTET_MASK: Final = bytes(value & 0x7F for value in range(256))


def _concat(element: InformationElement) -> tuple[int, int, int] | None:
    data = element.data
    if element.iei == Iei.CONCAT_8 and len(data) == 3:
        reference, total, seq = data
    elif element.iei == Iei.CONCAT_16 and len(data) == 4:
        reference, total, seq = (data[0] << 8) | data[1], data[2], data[3]
    else:
        return None
    # TS 23.040 §9.2.3.24.1: a zero total, a zero sequence number or one above the total makes
    # the receiver ignore the whole IE (the part is then shown as a message of its own).
    if total == 0 or not 1 <= seq <= total:
        return None
    return reference, total, seq


def decode_short_message(
    short_message: bytes,
    *,
    data_coding: int,
    udhi: bool,
    packed: bool = True,
    sar: tuple[int, int, int] | None = None,
) -> DecodedPart:
    """Parse one inbound short_message (deliver_sm / submit_sm) into a ``DecodedPart``.

    ``udhi`` is esm_class bit 0x40. ``packed`` says whether GSM 7-bit arrives packed or one
    septet per octet (per upstream). ``sar`` passes SAR TLVs (reference, total, seq) when the
    upstream uses them instead of a UDH. Raises ValueError on a malformed UDH.
    """
    encoding = encoding_for_data_coding(data_coding)
    elements: list[InformationElement] = []
    body = short_message
    udh = 0
    if udhi:
        elements, body = parse_udh(short_message)
        udh = len(short_message) - len(body)
    concat = sar
    locking: int | None = None
    single: int | None = None
    for element in elements:
        # A repeated IE: the last occurrence applies (TS 23.040 §9.2.3.24).
        if element.iei in (Iei.CONCAT_8, Iei.CONCAT_16):
            concat = _concat(element) or concat
        elif element.iei == Iei.NATIONAL_LOCKING_SHIFT and len(element.data) == 1:
            locking = element.data[0]
        elif element.iei == Iei.NATIONAL_SINGLE_SHIFT and len(element.data) == 1:
            single = element.data[0]
    if encoding is Encoding.GSM7:
        # Packed: the septets after a UDH start at the next septet boundary (TS 23.040
        # §9.2.3.24). Unpacked: tolerate senders that set the eighth bit.
        body = gsm7.unpack_padded(body, fill_bits(udh)) if packed else body.translate(_SEPTET_MASK)
    return DecodedPart(encoding, data_coding, body, concat, locking, single, tuple(elements))
