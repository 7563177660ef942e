"""User data header: building and parsing information elements (3GPP TS 23.040 §9.2.3.24)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from gateway.text.national import NationalLanguage


class Iei(IntEnum):
    """Information element identifiers used here, TS 23.040 §9.2.3.24 table."""

    CONCAT_8 = 0x00  # §9.2.3.24.1 Concatenated short messages, 8-bit reference
    CONCAT_16 = 0x08  # §9.2.3.24.8 Concatenated short messages, 16-bit reference
    NATIONAL_SINGLE_SHIFT = 0x24  # §9.2.3.24.15 National Language Single Shift
    NATIONAL_LOCKING_SHIFT = 0x25  # §9.2.3.24.16 National Language Locking Shift


@dataclass(frozen=True, slots=True)
class InformationElement:
    iei: int
    data: bytes


def concat_udh(
    reference: int,
    total: int,
    seq: int,
    *,
    ref16: bool = False,
    national: NationalLanguage | None = None,
    locking: bool = False,
    single: bool = False,
) -> bytes:
    """The UDH, including its UDHL length octet, for one part.

    ``total == 1`` leaves the concatenation IE out; with no national IE either the result is
    ``b""`` (no UDH at all). The national IEs follow the concatenation IE, single shift first.
    """
    if not 1 <= total <= 0xFF or not 1 <= seq <= total:
        # §9.2.3.24.1: both octets are 1..255 and the sequence number never exceeds the total.
        raise ValueError(f"part {seq} of {total} is not a valid concatenation position")
    ies = bytearray()
    if total > 1:
        if ref16:
            if not 0 <= reference <= 0xFFFF:
                raise ValueError(f"16-bit concatenation reference out of range: {reference}")
            ies += bytes((Iei.CONCAT_16, 4, reference >> 8, reference & 0xFF, total, seq))
        else:
            if not 0 <= reference <= 0xFF:
                raise ValueError(f"8-bit concatenation reference out of range: {reference}")
            ies += bytes((Iei.CONCAT_8, 3, reference, total, seq))
    if (locking or single) and national is None:
        raise ValueError("a national shift IE needs a language")
    if single and national is not None:
        ies += bytes((Iei.NATIONAL_SINGLE_SHIFT, 1, national))
    if locking and national is not None:
        ies += bytes((Iei.NATIONAL_LOCKING_SHIFT, 1, national))
    if not ies:
        return b""
    return bytes((len(ies),)) + bytes(ies)


def parse_udh(short_message: bytes) -> tuple[list[InformationElement], bytes]:
    """Split a short message that starts with a UDH into its IEs and the body after it.

    Unknown IEs are kept as they are. Raises ValueError when the UDHL or an IE length runs past
    the data (the header cannot be trusted, so neither can the body boundary).
    """
    if not short_message:
        raise ValueError("UDH indicator set but the short message is empty")
    end = 1 + short_message[0]
    if end > len(short_message):
        raise ValueError(f"UDHL {short_message[0]} exceeds the {len(short_message)}-octet message")
    elements: list[InformationElement] = []
    position = 1
    while position < end:
        if position + 2 > end:
            raise ValueError("truncated information element header in UDH")
        length = short_message[position + 1]
        data_end = position + 2 + length
        if data_end > end:
            raise ValueError(f"information element 0x{short_message[position]:02X} overruns UDH")
        elements.append(
            InformationElement(short_message[position], short_message[position + 2 : data_end])
        )
        position = data_end
    return elements, short_message[end:]
