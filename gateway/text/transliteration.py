"""Optional mapping of typographic characters to GSM 7-bit default alphabet equivalents.

Word processors and phones insert curly quotes, dashes, ellipses and exotic spaces that are not
in the GSM 7-bit default alphabet (TS 23.038 §6.2.1); one of them turns a 160-character SMS into
a 70-character UCS2 one. Only punctuation and spacing is mapped: letters keep their identity
(national shift tables or UCS2 carry them), so the meaning of the text never changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from gateway.text.codecs import first_appearance

_QUOTE: Final = "'"
_DOUBLE_QUOTE: Final = '"'
_DASH: Final = "-"
_SPACE: Final = " "

# Replacement per Unicode code point; every replacement is made of default-alphabet characters
# only (a unit test checks this against gsm7.DEFAULT).
REPLACEMENTS: Final[Mapping[str, str]] = {
    # Single quotes, primes and accents used as apostrophes.
    "\u2018": _QUOTE,  # LEFT SINGLE QUOTATION MARK
    "\u2019": _QUOTE,  # RIGHT SINGLE QUOTATION MARK
    "\u201a": _QUOTE,  # SINGLE LOW-9 QUOTATION MARK
    "\u201b": _QUOTE,  # SINGLE HIGH-REVERSED-9 QUOTATION MARK
    "\u2032": _QUOTE,  # PRIME
    "\u2039": _QUOTE,  # SINGLE LEFT-POINTING ANGLE QUOTATION MARK
    "\u203a": _QUOTE,  # SINGLE RIGHT-POINTING ANGLE QUOTATION MARK
    "\u00b4": _QUOTE,  # ACUTE ACCENT
    "`": _QUOTE,  # GRAVE ACCENT (ASCII, but absent from the default alphabet)
    # Double quotes.
    "\u201c": _DOUBLE_QUOTE,  # LEFT DOUBLE QUOTATION MARK
    "\u201d": _DOUBLE_QUOTE,  # RIGHT DOUBLE QUOTATION MARK
    "\u201e": _DOUBLE_QUOTE,  # DOUBLE LOW-9 QUOTATION MARK
    "\u201f": _DOUBLE_QUOTE,  # DOUBLE HIGH-REVERSED-9 QUOTATION MARK
    "\u2033": _DOUBLE_QUOTE,  # DOUBLE PRIME
    "\u00ab": _DOUBLE_QUOTE,  # LEFT-POINTING DOUBLE ANGLE QUOTATION MARK
    "\u00bb": _DOUBLE_QUOTE,  # RIGHT-POINTING DOUBLE ANGLE QUOTATION MARK
    # Dashes, hyphens and minus signs.
    "\u2010": _DASH,  # HYPHEN
    "\u2011": _DASH,  # NON-BREAKING HYPHEN
    "\u2012": _DASH,  # FIGURE DASH
    "\u2013": _DASH,  # EN DASH
    "\u2014": _DASH,  # EM DASH
    "\u2015": _DASH,  # HORIZONTAL BAR
    "\u2212": _DASH,  # MINUS SIGN
    "\ufe58": _DASH,  # SMALL EM DASH
    "\ufe63": _DASH,  # SMALL HYPHEN-MINUS
    "\uff0d": _DASH,  # FULLWIDTH HYPHEN-MINUS
    # Bullets.
    "\u2022": _DASH,  # BULLET
    "\u2023": _DASH,  # TRIANGULAR BULLET
    "\u2043": _DASH,  # HYPHEN BULLET
    "\u25cf": _DASH,  # BLACK CIRCLE
    "\u00b7": ".",  # MIDDLE DOT
    # Ellipsis and other punctuation.
    "\u2026": "...",  # HORIZONTAL ELLIPSIS
    "\u2044": "/",  # FRACTION SLASH
    "\u00d7": "x",  # MULTIPLICATION SIGN
    "\u2122": "TM",  # TRADE MARK SIGN
    "\u00a9": "(c)",  # COPYRIGHT SIGN
    "\u00ae": "(R)",  # REGISTERED SIGN
    # Spaces (the default alphabet has only U+0020) and line separators.
    "\t": _SPACE,
    "\u00a0": _SPACE,  # NO-BREAK SPACE
    "\u1680": _SPACE,  # OGHAM SPACE MARK
    **{chr(code): _SPACE for code in range(0x2000, 0x200B)},  # EN QUAD .. HAIR SPACE
    "\u202f": _SPACE,  # NARROW NO-BREAK SPACE
    "\u205f": _SPACE,  # MEDIUM MATHEMATICAL SPACE
    "\u3000": _SPACE,  # IDEOGRAPHIC SPACE
    "\u2028": "\n",  # LINE SEPARATOR
    "\u2029": "\n",  # PARAGRAPH SEPARATOR
    # Invisible characters: dropped.
    "\u00ad": "",  # SOFT HYPHEN
    "\u200b": "",  # ZERO WIDTH SPACE
    "\u200c": "",  # ZERO WIDTH NON-JOINER
    "\u200d": "",  # ZERO WIDTH JOINER
    "\u2060": "",  # WORD JOINER
    "\ufeff": "",  # ZERO WIDTH NO-BREAK SPACE (byte order mark)
}

_TABLE: Final = str.maketrans(dict(REPLACEMENTS))
_SOURCES: Final = frozenset(REPLACEMENTS)


def transliterate(text: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The text with replacements applied, and the (original, replacement) pairs used, each
    once, in order of first appearance."""
    found = _SOURCES.intersection(text)
    if not found:
        return text, ()
    return (
        text.translate(_TABLE),
        tuple((char, REPLACEMENTS[char]) for char in first_appearance(text, found)),
    )
