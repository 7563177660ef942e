"""GSM 7-bit tables and packing against 3GPP TS 23.038."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.text import decode_gsm7, pack_septets, unpack_septets
from gateway.text.gsm7 import (
    DEFAULT,
    DEFAULT_ALPHABET,
    DEFAULT_EXTENSION,
    ESCAPE,
    pack_padded,
    unpack_padded,
)
from gateway.text.national import (
    LOCKING_TABLES,
    SINGLE_SHIFT_TABLES,
    NationalLanguage,
    alphabet,
)

septet_strings = st.binary(max_size=600).map(lambda b: bytes(x & 0x7F for x in b))


# --- packing -------------------------------------------------------------------------------


def test_packing_example_hellohello() -> None:
    # TS 23.038 §6.1.2.1.1 example: "hellohello" packs to E8 32 9B FD 46 97 D9 EC 37.
    septets = DEFAULT.encode("hellohello")
    assert septets is not None
    assert pack_septets(septets).hex() == "e8329bfd4697d9ec37"
    assert unpack_septets(bytes.fromhex("e8329bfd4697d9ec37"), 10) == septets


def test_packing_eight_septets_fill_seven_octets() -> None:
    # 8 septets of 1 bits fill 7 octets exactly.
    assert pack_septets(b"\x7f" * 8) == b"\xff" * 7


def test_fill_bits_shift_the_first_septet() -> None:
    # One fill bit after a 6-octet UDH (TS 23.040 §9.2.3.24): 'a' (0x61) lands at bit 1.
    assert pack_septets(b"a", 1) == bytes([0x61 << 1])
    assert pack_septets(b"aa", 1) == (0x61 << 1 | 0x61 << 8).to_bytes(2, "little")


@given(septet_strings, st.integers(0, 6))
def test_pack_unpack_round_trip(septets: bytes, fill: int) -> None:
    packed = pack_septets(septets, fill)
    assert len(packed) == (fill + 7 * len(septets) + 7) // 8
    assert unpack_septets(packed, len(septets), fill) == septets
    # The reference: a plain bit-by-bit packer.
    value = sum(s << (fill + 7 * i) for i, s in enumerate(septets))
    assert packed == value.to_bytes(len(packed), "little")


@given(septet_strings, st.integers(0, 6))
def test_padded_round_trip_without_count(septets: bytes, fill: int) -> None:
    packed = pack_padded(septets, fill)
    got = unpack_padded(packed, fill)
    if septets.endswith(b"\r") and (fill + 7 * len(septets)) % 8 == 0:
        # TS 23.038 §6.1.2.3.1: a CR ending on an octet boundary reads as padding.
        assert got == septets[:-1]
    else:
        assert got == septets


def test_padding_uses_cr_not_at_sign() -> None:
    # 7 septets leave 7 spare bits: zero bits would read as '@' (0x00), a CR pad is stripped.
    packed = pack_padded(b"1234567")
    assert len(packed) == 7
    assert unpack_septets(packed, 8)[-1] == 0x0D
    assert unpack_padded(packed) == b"1234567"


def test_pack_rejects_non_septets_and_bad_fill() -> None:
    with pytest.raises(ValueError, match="below 0x80"):
        pack_septets(b"\x80")
    with pytest.raises(ValueError, match="fill_bits"):
        pack_septets(b"a", 7)
    with pytest.raises(ValueError, match="cannot hold"):
        unpack_septets(b"\x00", 2)


# --- default alphabet and extension table (TS 23.038 §6.2.1, §6.2.1.1) --------------------


def test_default_alphabet_spot_checks() -> None:
    assert len(DEFAULT_ALPHABET) == 128
    assert DEFAULT_ALPHABET[0x00] == "@"
    assert DEFAULT_ALPHABET[0x02] == "$"
    assert DEFAULT_ALPHABET[0x09] == "\u00c7"  # capital C cedilla
    assert DEFAULT_ALPHABET[0x10] == "\u0394"  # Greek capital delta
    assert DEFAULT_ALPHABET[0x11] == "_"
    assert DEFAULT_ALPHABET[0x24] == "\u00a4"  # currency sign, not '$'
    assert DEFAULT_ALPHABET[0x40] == "\u00a1"
    assert DEFAULT_ALPHABET[0x5F] == "\u00a7"
    assert DEFAULT_ALPHABET[0x60] == "\u00bf"
    assert DEFAULT_ALPHABET[0x7F] == "\u00e0"
    assert DEFAULT_ALPHABET[ESCAPE] == "\x1b"
    assert "`" not in DEFAULT.charset
    assert "\x1b" not in DEFAULT.charset


@pytest.mark.parametrize("code", [c for c in range(128) if c != ESCAPE])
def test_every_default_character_round_trips(code: int) -> None:
    char = DEFAULT_ALPHABET[code]
    assert DEFAULT.encode(char) == bytes([code])
    assert decode_gsm7(bytes([code])) == char


@pytest.mark.parametrize(("code", "char"), sorted(DEFAULT_EXTENSION.items()))
def test_every_extension_character_round_trips(code: int, char: str) -> None:
    assert DEFAULT.encode(char) == bytes([ESCAPE, code])
    assert decode_gsm7(bytes([ESCAPE, code])) == char


def test_extension_table_is_exactly_the_spec() -> None:
    assert "".join(DEFAULT_EXTENSION.values()) == "\x0c^{}\\[~]|\u20ac"
    assert sorted(DEFAULT_EXTENSION) == [0x0A, 0x14, 0x28, 0x29, 0x2F, 0x3C, 0x3D, 0x3E, 0x40, 0x65]


def test_decoder_tolerates_odd_escapes() -> None:
    # An escaped code without an extension character shows the main table character
    # (TS 23.038 §6.2.1.1 note); ESC ESC shows a space; a trailing lone ESC shows nothing.
    assert decode_gsm7(b"\x1bA") == "A"
    assert decode_gsm7(b"a\x1b\x1bb") == "a b"
    assert decode_gsm7(b"ab\x1b") == "ab"
    assert decode_gsm7(b"\x1b\x1b\x1b(") == " {"
    with pytest.raises(ValueError, match="0x7F"):
        decode_gsm7(b"\x80")


# --- national language tables (TS 23.038 Annex A) ------------------------------------------


def test_turkish_locking_shift_spot_checks() -> None:
    table = LOCKING_TABLES[NationalLanguage.TURKISH]
    expected = {
        0x04: "\u20ac",
        0x07: "\u0131",
        0x0B: "\u011e",
        0x0C: "\u011f",
        0x1C: "\u015e",
        0x1D: "\u015f",
        0x40: "\u0130",
        0x60: "\u00e7",
    }
    for code, char in expected.items():
        assert table[code] == char
    # Everything else is the default alphabet.
    differing = {c for c in range(128) if table[c] != DEFAULT_ALPHABET[c]}
    assert differing == set(expected)


def test_portuguese_locking_shift_spot_checks() -> None:
    table = LOCKING_TABLES[NationalLanguage.PORTUGUESE]
    assert table[0x04] == "\u00ea"
    assert table[0x12] == "\u00aa"
    assert table[0x15] == "\u221e"
    assert table[0x16:0x1B] == "^\\\u20ac\u00d3|"
    assert table[0x24] == "\u00ba"
    assert table[0x40] == "\u00cd"
    assert table[0x5B:0x5F] == "\u00c3\u00d5\u00da\u00dc"
    assert table[0x60] == "~"
    assert table[0x7B:0x80] == "\u00e3\u00f5`\u00fc\u00e0"


def test_spanish_has_no_locking_table() -> None:
    # TS 23.038 Annex A.3.2 is void.
    assert NationalLanguage.SPANISH not in LOCKING_TABLES


@pytest.mark.parametrize(
    ("language", "code", "char"),
    [
        (NationalLanguage.TURKISH, 0x47, "\u011e"),
        (NationalLanguage.TURKISH, 0x49, "\u0130"),
        (NationalLanguage.TURKISH, 0x73, "\u015f"),
        (NationalLanguage.TURKISH, 0x65, "\u20ac"),
        (NationalLanguage.SPANISH, 0x09, "\u00e7"),
        (NationalLanguage.SPANISH, 0x41, "\u00c1"),
        (NationalLanguage.SPANISH, 0x75, "\u00fa"),
        (NationalLanguage.PORTUGUESE, 0x05, "\u00ea"),
        (NationalLanguage.PORTUGUESE, 0x12, "\u03a6"),
        (NationalLanguage.PORTUGUESE, 0x1F, "\u00ca"),
        (NationalLanguage.PORTUGUESE, 0x7F, "\u00e2"),
    ],
)
def test_single_shift_spot_checks(language: NationalLanguage, code: int, char: str) -> None:
    assert SINGLE_SHIFT_TABLES[language][code] == char
    assert decode_gsm7(bytes([ESCAPE, code]), language, single=True) == char
    # With the default alphabet as main table, characters it holds (the Portuguese Greek
    # letters) keep their one-septet form.
    expected = bytes([DEFAULT_ALPHABET.index(char)]) if char in DEFAULT_ALPHABET else None
    assert alphabet(None, language).encode(char) == (expected or bytes([ESCAPE, code]))


@pytest.mark.parametrize(
    ("locking", "single"),
    [(None, 1), (None, 2), (None, 3), (1, None), (3, None), (1, 1), (3, 3), (3, 1)],
)
def test_every_national_table_entry_round_trips(locking: int | None, single: int | None) -> None:
    alpha = alphabet(locking, single)
    for char in alpha.charset:
        septets = alpha.encode(char)
        assert septets is not None
        assert len(septets) == (2 if char in alpha.escaped else 1)
        assert alpha.decode(septets) == char


def test_unknown_language_falls_back_to_default() -> None:
    assert alphabet(9, 13) is DEFAULT
    assert decode_gsm7(b"\x1b\x65", 9, locking=True, single=True) == "\u20ac"
