"""National language shift tables (3GPP TS 23.038 §6.2.1.2 and Annex A).

A National Language Locking Shift Table replaces the default alphabet for the whole message; a
National Language Single Shift Table replaces the default extension table (the septet after an
escape). Each is announced by a user data header IE (TS 23.040 §9.2.3.24.15 and .16) that costs
room in every segment, so they are only worth using when they avoid UCS2.

Tables present: Turkish, Spanish (single shift only: Annex A.3.2 is void) and Portuguese. The
Indian language tables of Annex A (identifiers 4-13) are not implemented yet; a received message
that announces one is decoded with the default tables (TS 23.038 §6.2.1.2.4: a receiver that does
not support a table falls back to the default alphabet).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Final

from gateway.text.gsm7 import DEFAULT, DEFAULT_ALPHABET, DEFAULT_EXTENSION, Alphabet


class NationalLanguage(IntEnum):
    """National language identifiers, TS 23.038 §6.2.1.2.4 (the value sent in the UDH IE)."""

    TURKISH = 1
    SPANISH = 2
    PORTUGUESE = 3


# TS 23.038 Annex A.3.1 "Turkish National Language Locking Shift Table". Rows of 16 septets;
# 0x1B is the escape code. Differs from the default alphabet at 0x04, 0x07, 0x0B, 0x0C, 0x1C,
# 0x1D, 0x40 and 0x60.
_TURKISH_LOCKING: Final = (
    "@\u00a3$\u00a5\u20ac\u00e9\u00f9\u0131\u00f2\u00c7\n\u011e\u011f\r\u00c5\u00e5"  # 0x00
    "\u0394_\u03a6\u0393\u039b\u03a9\u03a0\u03a8"  # 0x10
    "\u03a3\u0398\u039e\x1b\u015e\u015f\u00df\u00c9"  # 0x18
    " !\"#\u00a4%&'()*+,-./"  # 0x20
    "0123456789:;<=>?"  # 0x30
    "\u0130ABCDEFGHIJKLMNO"  # 0x40
    "PQRSTUVWXYZ\u00c4\u00d6\u00d1\u00dc\u00a7"  # 0x50
    "\u00e7abcdefghijklmno"  # 0x60
    "pqrstuvwxyz\u00e4\u00f6\u00f1\u00fc\u00e0"  # 0x70
)

# TS 23.038 Annex A.3.3 "Portuguese National Language Locking Shift Table".
_PORTUGUESE_LOCKING: Final = (
    "@\u00a3$\u00a5\u00ea\u00e9\u00fa\u00ed\u00f3\u00e7\n\u00d4\u00f4\r\u00c1\u00e1"  # 0x00
    "\u0394_\u00aa\u00c7\u00c0\u221e^\\\u20ac\u00d3|\x1b\u00c2\u00e2\u00ca\u00c9"  # 0x10
    " !\"#\u00ba%&'()*+,-./"  # 0x20
    "0123456789:;<=>?"  # 0x30
    "\u00cdABCDEFGHIJKLMNO"  # 0x40
    "PQRSTUVWXYZ\u00c3\u00d5\u00da\u00dc\u00a7"  # 0x50
    "~abcdefghijklmno"  # 0x60
    "pqrstuvwxyz\u00e3\u00f5`\u00fc\u00e0"  # 0x70
)

# The single shift tables of Annex A.2.1-A.2.3 all keep the ten entries of the default extension
# table (§6.2.1.1) at the same codes and add the ones below.
_TURKISH_SINGLE: Final[Mapping[int, str]] = {  # Annex A.2.1
    **DEFAULT_EXTENSION,
    0x47: "\u011e",  # G with breve
    0x49: "\u0130",  # I with dot above
    0x53: "\u015e",  # S with cedilla
    0x63: "\u00e7",  # c with cedilla
    0x67: "\u011f",  # g with breve
    0x69: "\u0131",  # dotless i
    0x73: "\u015f",  # s with cedilla
}
_SPANISH_SINGLE: Final[Mapping[int, str]] = {  # Annex A.2.2
    **DEFAULT_EXTENSION,
    0x09: "\u00e7",
    0x41: "\u00c1",
    0x49: "\u00cd",
    0x4F: "\u00d3",
    0x55: "\u00da",
    0x61: "\u00e1",
    0x69: "\u00ed",
    0x6F: "\u00f3",
    0x75: "\u00fa",
}
_PORTUGUESE_SINGLE: Final[Mapping[int, str]] = {  # Annex A.2.3
    **DEFAULT_EXTENSION,
    0x05: "\u00ea",
    0x09: "\u00e7",
    0x0B: "\u00d4",
    0x0C: "\u00f4",
    0x0E: "\u00c1",
    0x0F: "\u00e1",
    0x12: "\u03a6",
    0x13: "\u0393",
    0x15: "\u03a9",
    0x16: "\u03a0",
    0x17: "\u03a8",
    0x18: "\u03a3",
    0x19: "\u0398",
    0x1F: "\u00ca",
    0x41: "\u00c0",
    0x49: "\u00cd",
    0x4F: "\u00d3",
    0x55: "\u00da",
    0x5B: "\u00c3",
    0x5C: "\u00d5",
    0x61: "\u00c2",
    0x69: "\u00ed",
    0x6F: "\u00f3",
    0x75: "\u00fa",
    0x7B: "\u00e3",
    0x7C: "\u00f5",
    0x7F: "\u00e2",
}

LOCKING_TABLES: Final[Mapping[int, str]] = {
    NationalLanguage.TURKISH: _TURKISH_LOCKING,
    NationalLanguage.PORTUGUESE: _PORTUGUESE_LOCKING,
}
SINGLE_SHIFT_TABLES: Final[Mapping[int, Mapping[int, str]]] = {
    NationalLanguage.TURKISH: _TURKISH_SINGLE,
    NationalLanguage.SPANISH: _SPANISH_SINGLE,
    NationalLanguage.PORTUGUESE: _PORTUGUESE_SINGLE,
}

# Languages tried by encode_text when the default alphabet cannot carry a text.
DEFAULT_NATIONAL: Final[tuple[NationalLanguage, ...]] = (
    NationalLanguage.TURKISH,
    NationalLanguage.SPANISH,
    NationalLanguage.PORTUGUESE,
)


def _build() -> dict[tuple[int | None, int | None], Alphabet]:
    built: dict[tuple[int | None, int | None], Alphabet] = {(None, None): DEFAULT}
    for locking in (None, *LOCKING_TABLES):
        for single in (None, *SINGLE_SHIFT_TABLES):
            if locking is None and single is None:
                continue
            main = DEFAULT_ALPHABET if locking is None else LOCKING_TABLES[locking]
            extension = DEFAULT_EXTENSION if single is None else SINGLE_SHIFT_TABLES[single]
            built[(locking, single)] = Alphabet(main, extension)
    return built


# Every combination, built at import (a dozen small tables), keyed by (locking id, single id).
_ALPHABETS: Final = _build()


def alphabet(locking: int | None = None, single: int | None = None) -> Alphabet:
    """The alphabet for a locking/single shift pair; unknown identifiers fall back to default.

    TS 23.038 §6.2.1.2.4: a receiver without a table decodes with the default alphabet
    (locking) or the default extension table (single shift).
    """
    if locking not in LOCKING_TABLES:
        locking = None
    if single not in SINGLE_SHIFT_TABLES:
        single = None
    return _ALPHABETS[(locking, single)]
