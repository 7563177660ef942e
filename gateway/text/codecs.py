"""One codec per data_coding, behind one interface.

A codec turns text into a segment payload (no UDH) and back, counts the payload in the units that
segment limits are expressed in, and says where a payload may be cut so that no escape pair
(GSM 7-bit) or surrogate pair (UCS2/UTF-16) straddles two segments.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final, Protocol

from gateway.text import gsm7
from gateway.text.national import alphabet


class Encoding(StrEnum):
    GSM7 = "gsm7"
    LATIN1 = "latin1"
    UCS2 = "ucs2"
    BINARY = "binary"


# SMPP 3.4 §5.2.19 data_coding: 0 "SMSC default alphabet" (GSM 7-bit for our upstreams),
# 3 "Latin 1 (ISO-8859-1)", 8 "UCS2 (ISO/IEC-10646)", 4 "8-bit binary". Per-connector
# overrides are applied by the connector, not here.
DATA_CODING: Final[Mapping[Encoding, int]] = {
    Encoding.GSM7: 0x00,
    Encoding.LATIN1: 0x03,
    Encoding.UCS2: 0x08,
    Encoding.BINARY: 0x04,
}

# SMPP 3.4 §5.2.19 values that are not in TS 23.038 §4 form: 1 IA5 (ASCII, a Latin-1 subset),
# 2 octet unspecified (binary), 3 Latin-1, 4 binary, 8 UCS2. 5-7 and 9-14 are alphabets we do
# not decode (JIS, Cyrillic, Hebrew, pictogram, ...): their bodies are surfaced as binary.
_SMPP_DATA_CODING: Final[Mapping[int, Encoding]] = {
    0x00: Encoding.GSM7,
    0x01: Encoding.LATIN1,
    0x02: Encoding.BINARY,
    0x03: Encoding.LATIN1,
    0x04: Encoding.BINARY,
    0x08: Encoding.UCS2,
}
# TS 23.038 §4 "General Data Coding indication" (0x00-0x7F, bits 3-2 give the alphabet).
_GENERAL_ALPHABET: Final = (Encoding.GSM7, Encoding.BINARY, Encoding.UCS2, Encoding.BINARY)
_COMPRESSED: Final = 0x20  # TS 23.038 §4 bit 5: text is compressed (TS 23.042), not decodable


def encoding_for_data_coding(data_coding: int) -> Encoding:
    """The alphabet an inbound data_coding announces (SMPP 3.4 §5.2.19, TS 23.038 §4)."""
    if data_coding < 0x10:
        return _SMPP_DATA_CODING.get(data_coding, Encoding.BINARY)
    if data_coding < 0x80:  # general data coding groups 00xx and 01xx
        if data_coding & _COMPRESSED:
            return Encoding.BINARY
        return _GENERAL_ALPHABET[(data_coding >> 2) & 0x03]
    if 0xC0 <= data_coding < 0xE0:  # message waiting groups: GSM 7-bit
        return Encoding.GSM7
    if 0xE0 <= data_coding < 0xF0:  # message waiting group: UCS2
        return Encoding.UCS2
    if data_coding >= 0xF0:  # data coding / message class: bit 2 picks 8-bit over GSM 7-bit
        return Encoding.BINARY if data_coding & 0x04 else Encoding.GSM7
    return Encoding.BINARY  # 0x80-0xBF reserved coding groups


class UnencodableText(ValueError):  # noqa: N818 - name fixed by the gateway-wide contract
    """The text cannot be represented in the requested encoding.

    ``characters`` lists the offending characters once each, in order of first appearance.
    """

    def __init__(self, encoding: Encoding, characters: tuple[str, ...]) -> None:
        self.encoding = encoding
        self.characters = characters
        shown = ", ".join(f"U+{ord(c):04X}" for c in characters)
        super().__init__(f"{encoding.value} cannot represent {shown}")


def first_appearance(text: str, chars: set[str] | frozenset[str]) -> tuple[str, ...]:
    """``chars`` ordered by where they first occur in ``text`` (str.index runs in C)."""
    return tuple(sorted(chars, key=text.index))


class Codec(Protocol):
    """Text <-> segment payload for one encoding."""

    encoding: Encoding
    unit_octets: int  # payload octets per counting unit (UCS2: 2 per UTF-16 code unit)

    def encode(self, text: str) -> bytes:
        """The payload, or UnencodableText naming what does not fit."""
        ...

    def decode(self, payload: bytes) -> str:
        """The text a payload carries (tolerant: inbound data may be malformed)."""
        ...

    def cut(self, payload: bytes, end: int) -> int:
        """The largest cut <= ``end`` (an octet offset) that splits no character."""
        ...


class Gsm7Codec:
    """GSM 7-bit with optional national locking / single shift tables, one septet per octet."""

    encoding = Encoding.GSM7
    unit_octets = 1

    def __init__(self, locking: int | None = None, single: int | None = None) -> None:
        self.alphabet = alphabet(locking, single)

    def encode(self, text: str) -> bytes:
        septets = self.alphabet.encode(text)
        if septets is None:
            bad = set(text) - self.alphabet.charset
            raise UnencodableText(Encoding.GSM7, first_appearance(text, bad))
        return septets

    def decode(self, payload: bytes) -> str:
        return self.alphabet.decode(payload)

    def cut(self, payload: bytes, end: int) -> int:
        # An escape is never the second septet of a pair (the extension code 0x1B is reserved,
        # TS 23.038 §6.2.1.1), so an escape just before the cut always belongs after it.
        if end < len(payload) and payload[end - 1] == gsm7.ESCAPE:
            return end - 1
        return end


class Latin1Codec:
    encoding = Encoding.LATIN1
    unit_octets = 1

    def encode(self, text: str) -> bytes:
        try:
            return text.encode("latin-1")
        except UnicodeEncodeError:
            bad = {c for c in set(text) if ord(c) > 0xFF}
            raise UnencodableText(Encoding.LATIN1, first_appearance(text, bad)) from None

    def decode(self, payload: bytes) -> str:
        return payload.decode("latin-1")

    def cut(self, payload: bytes, end: int) -> int:
        return end


class BinaryCodec(Latin1Codec):
    """Raw octets; a str stands for bytes through code points 0-255."""

    encoding = Encoding.BINARY

    def encode(self, text: str) -> bytes:
        try:
            return text.encode("latin-1")
        except UnicodeEncodeError:
            bad = {c for c in set(text) if ord(c) > 0xFF}
            raise UnencodableText(Encoding.BINARY, first_appearance(text, bad)) from None


_LOW_SURROGATE_HIGH_OCTETS: Final = range(0xDC, 0xE0)  # U+DC00-U+DFFF, big-endian first octet


class Ucs2Codec:
    """UTF-16BE. SMPP and TS 23.038 say UCS2, but every current handset reads the surrogate pairs
    of UTF-16, which is what carries emoji; lone surrogates cannot be sent."""

    encoding = Encoding.UCS2
    unit_octets = 2

    def encode(self, text: str) -> bytes:
        try:
            return text.encode("utf-16-be")
        except UnicodeEncodeError:
            bad = {c for c in set(text) if 0xD800 <= ord(c) <= 0xDFFF}
            raise UnencodableText(Encoding.UCS2, first_appearance(text, bad)) from None

    def decode(self, payload: bytes) -> str:
        return payload.decode("utf-16-be", errors="replace")

    def cut(self, payload: bytes, end: int) -> int:
        end -= end % 2
        if end < len(payload) and payload[end] in _LOW_SURROGATE_HIGH_OCTETS:
            return end - 2  # keep the high surrogate with its low surrogate
        return end


LATIN1: Final = Latin1Codec()
BINARY: Final = BinaryCodec()
UCS2: Final = Ucs2Codec()


def codec_for(encoding: Encoding, locking: int | None = None, single: int | None = None) -> Codec:
    """The codec for an encoding (national tables apply to GSM 7-bit only)."""
    if encoding is Encoding.GSM7:
        return Gsm7Codec(locking, single)
    if encoding is Encoding.UCS2:
        return UCS2
    if encoding is Encoding.LATIN1:
        return LATIN1
    return BINARY


def decode_gsm7(
    septets: bytes,
    national: int | None = None,
    locking: bool = False,
    single: bool = False,
) -> str:
    """Decode septets (one per octet), inverse of the GSM 7-bit encoder.

    ``national`` with ``locking`` and/or ``single`` selects the shift tables announced by the
    UDH (TS 23.038 §6.2.1.2); an unknown language falls back to the default tables.
    """
    return alphabet(national if locking else None, national if single else None).decode(septets)


def decode_body(
    encoding: Encoding,
    body: bytes,
    *,
    locking: int | None = None,
    single: int | None = None,
) -> str | None:
    """The text of a (possibly reassembled) body; None for binary data."""
    if encoding is Encoding.GSM7:
        return alphabet(locking, single).decode(body)
    if encoding is Encoding.BINARY:
        return None
    return codec_for(encoding).decode(body)
