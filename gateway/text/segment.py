"""Segment limits and splitting (3GPP TS 23.040 §9.2.3.16 and §9.2.3.24).

Limits are derived from the 140-octet TP-User-Data and the size of the user data header rather
than hard-coded, so every combination of concatenation and national shift IEs gets the exact
figure: 160/153/152 septets, 140/134/133 octets, 70/67/66 UTF-16 code units, and less again when
national language IEs ride along.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from gateway.text.codecs import Codec, Encoding
from gateway.text.frozen import positional_factory
from gateway.text.national import NationalLanguage

# TS 23.040 §9.2.3.16: TP-User-Data holds at most 140 octets (160 septets).
USER_DATA_OCTETS: Final = 140
# TS 23.040 §9.2.3.24: IEI octet + length octet + data.
IE_HEADER_OCTETS: Final = 2
CONCAT8_IE_OCTETS: Final = IE_HEADER_OCTETS + 3  # §9.2.3.24.1: reference, total, sequence
CONCAT16_IE_OCTETS: Final = IE_HEADER_OCTETS + 4  # §9.2.3.24.8: 16-bit reference
NATIONAL_IE_OCTETS: Final = IE_HEADER_OCTETS + 1  # §9.2.3.24.15 / .16: language identifier
UDHL_OCTETS: Final = 1  # §9.2.3.24: the UDH length octet itself


def udh_octets(*, concatenated: bool, ref16: bool = False, national_ies: int = 0) -> int:
    """Size of the UDH including its length octet; 0 when there is no IE at all."""
    ies = national_ies * NATIONAL_IE_OCTETS
    if concatenated:
        ies += CONCAT16_IE_OCTETS if ref16 else CONCAT8_IE_OCTETS
    return UDHL_OCTETS + ies if ies else 0


def capacity(encoding: Encoding, udh: int) -> int:
    """Units a segment carries after a UDH of ``udh`` octets.

    GSM 7-bit: the UDH plus its fill bits occupies ceil(8 * udh / 7) septet positions of the 160
    (TS 23.040 §9.2.3.24: the first septet after the UDH starts on a septet boundary).
    """
    if encoding is Encoding.GSM7:
        return USER_DATA_OCTETS * 8 // 7 - (8 * udh + 6) // 7
    octets = USER_DATA_OCTETS - udh
    return octets // 2 if encoding is Encoding.UCS2 else octets


def fill_bits(udh: int) -> int:
    """Zero bits between a UDH of ``udh`` octets and the first septet, TS 23.040 §9.2.3.24."""
    return (7 - (8 * udh) % 7) % 7


@dataclass(frozen=True, slots=True)
class Segment:
    """One SMS worth of text.

    ``payload`` has no UDH: GSM 7-bit is one septet per octet (packing happens at render time),
    UCS2 is UTF-16BE, LATIN1 latin-1 octets, BINARY raw octets. ``units`` is what the segment limit
    counts: septets (an escape pair counts 2), octets, or UTF-16 code units.
    """

    text: str
    payload: bytes
    units: int


@dataclass(frozen=True, slots=True)
class EncodedText:
    """A text encoded and split; rendered into PDUs by ``render_short_message``."""

    encoding: Encoding
    data_coding: int
    segments: tuple[Segment, ...]
    national: NationalLanguage | None
    locking_shift: bool
    single_shift: bool
    replaced: tuple[tuple[str, str], ...]
    # When UCS2 was chosen automatically: the GSM 7-bit characters that were tried, so that
    # `ucs2_forced_by` can be worked out when someone asks (the preview), not on every encode.
    forced_charset: frozenset[str] | None
    ref16: bool = False  # split for a 16-bit concatenation reference (7-octet UDH)

    @property
    def ucs2_forced_by(self) -> tuple[str, ...]:
        """The characters that made UCS2 necessary (empty unless UCS2 was chosen for them)."""
        if self.forced_charset is None:
            return ()
        from gateway.text.encoding import ucs2_forced_by

        return ucs2_forced_by(self.text, self.forced_charset)

    @property
    def national_ies(self) -> int:
        return int(self.locking_shift) + int(self.single_shift)

    @property
    def units(self) -> int:
        return sum(segment.units for segment in self.segments)

    @property
    def text(self) -> str:
        """The (possibly transliterated) text that is sent."""
        return "".join(segment.text for segment in self.segments)

    @property
    def characters_per_segment(self) -> int:
        """The per-segment limit the split used, in ``Segment.units``."""
        udh = udh_octets(
            concatenated=len(self.segments) > 1, ref16=self.ref16, national_ies=self.national_ies
        )
        return capacity(self.encoding, udh)


_new_segment: Final = positional_factory(Segment)  # hot path: see gateway.text.frozen


def limits(encoding: Encoding, *, ref16: bool, national_ies: int) -> tuple[int, int]:
    """(single-segment limit, per-segment limit when concatenated)."""
    single = capacity(encoding, udh_octets(concatenated=False, national_ies=national_ies))
    multi = capacity(
        encoding, udh_octets(concatenated=True, ref16=ref16, national_ies=national_ies)
    )
    return single, multi


def cut_points(codec: Codec, payload: bytes, single: int, multi: int) -> list[int]:
    """Octet offsets where segments end, greedily filling each one.

    Greedy is optimal here: every character is 1 or 2 units and must stay whole, and a greedy
    cut is never earlier than the k-th cut of any other valid split, so no split has fewer
    segments (exchange argument; tests compare against a dynamic programme).
    """
    size = codec.unit_octets
    total = len(payload)
    if total <= single * size:
        return [total]
    step = multi * size
    cuts: list[int] = []
    start = 0
    while start < total:
        end = start + step
        end = total if end >= total else codec.cut(payload, end)
        cuts.append(end)
        start = end
    return cuts


def split(codec: Codec, text: str, payload: bytes, single: int, multi: int) -> tuple[Segment, ...]:
    """Split an encoded ``payload`` (of ``text``) into segments."""
    cuts = cut_points(codec, payload, single, multi)
    size = codec.unit_octets
    if len(cuts) == 1:
        return (_new_segment(text, payload, len(payload) // size),)
    segments: list[Segment] = []
    start = 0
    if codec.encoding is Encoding.GSM7:
        position = 0  # in text: each character is its septet count minus its escapes
        for end in cuts:
            chars = end - start - payload.count(b"\x1b", start, end)
            segments.append(
                _new_segment(text[position : position + chars], payload[start:end], end - start)
            )
            position += chars
            start = end
    elif codec.encoding is Encoding.UCS2:
        for end in cuts:
            body = payload[start:end]
            segments.append(_new_segment(body.decode("utf-16-be"), body, (end - start) // 2))
            start = end
    else:
        for end in cuts:
            segments.append(_new_segment(text[start:end], payload[start:end], end - start))
            start = end
    return tuple(segments)


def body_units(encoding: Encoding, body: bytes) -> int:
    """The length of an encoded body in the units segment capacity counts: septets (GSM 7-bit,
    one per octet), UTF-16 code units (UCS2) or octets. A UCS2 body of an odd length (an ESME's
    malformed one) counts its last octet as a unit: 141 octets do not fit 70 units' 140."""
    return (len(body) + 1) // 2 if encoding is Encoding.UCS2 else len(body)
