"""Encoding choice and segmentation (TS 23.038 / TS 23.040), with property tests."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.text import (
    EncodedText,
    Encoding,
    NationalLanguage,
    UnencodableText,
    decode_body,
    encode_binary,
    encode_text,
)
from gateway.text.gsm7 import DEFAULT, ESCAPE
from gateway.text.national import alphabet
from gateway.text.segment import body_units, capacity, fill_bits, udh_octets
from gateway.text.transliteration import REPLACEMENTS

GSM_CHARS = sorted(DEFAULT.charset)
EXTENSION = "^{}\\[~]|\u20ac\x0c"
TURKISH = NationalLanguage.TURKISH
SPANISH = NationalLanguage.SPANISH
PORTUGUESE = NationalLanguage.PORTUGUESE

gsm_text = st.text(alphabet=st.sampled_from(GSM_CHARS), max_size=700)
extension_heavy = st.text(alphabet=st.sampled_from("ab {}€|"), max_size=700)
unicode_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400)
emoji_text = st.text(
    alphabet=st.sampled_from(["a", " ", "\U0001f600", "\U0001f44d", "\u0634", "\u00e9"]),
    max_size=400,
)


# --- limits -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "concatenated", "ref16", "national", "expected"),
    [
        (Encoding.GSM7, False, False, 0, 160),
        (Encoding.GSM7, True, False, 0, 153),
        (Encoding.GSM7, True, True, 0, 152),
        # TS 23.038 Annex C.3: one national IE (4 octets with UDHL) leaves 155, two leave 152.
        (Encoding.GSM7, False, False, 1, 155),
        (Encoding.GSM7, False, False, 2, 152),
        (Encoding.GSM7, True, False, 1, 149),
        (Encoding.GSM7, True, False, 2, 146),
        (Encoding.GSM7, True, True, 1, 148),
        (Encoding.GSM7, True, True, 2, 145),
        (Encoding.UCS2, False, False, 0, 70),
        (Encoding.UCS2, True, False, 0, 67),
        (Encoding.UCS2, True, True, 0, 66),
        (Encoding.LATIN1, False, False, 0, 140),
        (Encoding.LATIN1, True, False, 0, 134),
        (Encoding.BINARY, True, True, 0, 133),
    ],
)
def test_segment_limits(
    encoding: Encoding, concatenated: bool, ref16: bool, national: int, expected: int
) -> None:
    udh = udh_octets(concatenated=concatenated, ref16=ref16, national_ies=national)
    assert capacity(encoding, udh) == expected


def test_fill_bits() -> None:
    # TS 23.040 §9.2.3.24: 6-octet UDH (48 bits) needs 1 fill bit, 7 octets none, 4 octets 3.
    assert [fill_bits(n) for n in (0, 4, 6, 7, 9, 12)] == [0, 3, 1, 0, 5, 2]


# --- choices ----------------------------------------------------------------------------


def test_plain_text_is_single_gsm7_segment() -> None:
    encoded = encode_text("Your code is 1234")
    assert encoded.encoding is Encoding.GSM7
    assert encoded.data_coding == 0
    assert encoded.national is None
    assert len(encoded.segments) == 1
    assert encoded.units == 17
    assert encoded.characters_per_segment == 160


def test_boundaries_160_and_161() -> None:
    assert len(encode_text("x" * 160).segments) == 1
    encoded = encode_text("x" * 161)
    assert [s.units for s in encoded.segments] == [153, 8]
    assert encoded.characters_per_segment == 153
    assert [s.units for s in encode_text("x" * 161, ref16=True).segments] == [152, 9]


def test_extension_counts_two_and_is_never_split() -> None:
    assert encode_text("{" * 80).units == 160
    assert len(encode_text("{" * 80).segments) == 1
    # Septet 153 would be the escape of a pair: the pair moves to the next segment.
    encoded = encode_text("{" * 81)
    assert [s.units for s in encoded.segments] == [152, 10]
    assert [s.units for s in encode_text("a" + "{" * 80).segments] == [153, 8]
    assert encoded.segments[0].payload[-1] != ESCAPE


def test_ucs2_surrogate_pairs_never_split() -> None:
    encoded = encode_text("\U0001f600" * 40)
    assert encoded.encoding is Encoding.UCS2
    assert encoded.data_coding == 8
    assert [s.units for s in encoded.segments] == [66, 14]
    assert encoded.segments[0].text == "\U0001f600" * 33
    assert encoded.ucs2_forced_by == ("\U0001f600",)


def test_ucs2_boundaries() -> None:
    assert len(encode_text("\u0634" * 70).segments) == 1
    assert [s.units for s in encode_text("\u0634" * 71).segments] == [67, 4]


def test_turkish_uses_single_shift_first() -> None:
    encoded = encode_text("\u015eu \u0130stanbul'da")
    assert encoded.encoding is Encoding.GSM7
    assert (encoded.national, encoded.single_shift, encoded.locking_shift) == (TURKISH, True, False)
    assert encoded.characters_per_segment == 155


def test_turkish_locking_when_it_saves_segments() -> None:
    # 100 dotless i: single shift costs 200 septets (2 segments), locking 100 (1 segment).
    encoded = encode_text("\u0131" * 100)
    assert (encoded.national, encoded.locking_shift, encoded.single_shift) == (TURKISH, True, False)
    assert len(encoded.segments) == 1


def test_spanish_and_portuguese() -> None:
    assert encode_text("Informaci\u00f3n").national is SPANISH
    pt = encode_text("Informa\u00e7\u00e3o n\u00e3o \u00ea")
    assert pt.national is PORTUGUESE


def test_national_languages_can_be_disabled() -> None:
    encoded = encode_text("Informaci\u00f3n", national_languages=())
    assert encoded.encoding is Encoding.UCS2
    assert encoded.ucs2_forced_by == ("\u00f3",)


def test_portuguese_locking_beats_default_for_escape_heavy_text() -> None:
    # '^' is escaped in the default alphabet but one septet in the Portuguese locking table.
    text = "^" * 150
    default_only = encode_text(text, national_languages=())
    assert len(default_only.segments) == 2
    encoded = encode_text(text)
    assert (encoded.national, encoded.locking_shift) == (PORTUGUESE, True)
    assert len(encoded.segments) == 1


def test_mixed_languages_without_common_table_fall_back_to_ucs2() -> None:
    # Turkish g-breve and Spanish a-acute are never in the same table.
    encoded = encode_text("\u011f \u00e1")
    assert encoded.encoding is Encoding.UCS2
    assert encoded.ucs2_forced_by == ("\u011f", "\u00e1")


def test_pinned_encodings() -> None:
    assert encode_text("abc", encoding=Encoding.UCS2).encoding is Encoding.UCS2
    latin = encode_text("caf\u00e9", encoding=Encoding.LATIN1)
    assert (latin.data_coding, latin.segments[0].payload) == (3, b"caf\xe9")
    assert [s.units for s in encode_text("x" * 141, encoding=Encoding.LATIN1).segments] == [134, 7]
    binary = encode_binary(bytes(range(256)))
    assert binary.data_coding == 4
    assert b"".join(s.payload for s in binary.segments) == bytes(range(256))
    assert [s.units for s in binary.segments] == [134, 122]


def test_pinned_encoding_raises_with_characters() -> None:
    with pytest.raises(UnencodableText) as info:
        encode_text("a\U0001f600b\u20acc\U0001f600", encoding=Encoding.LATIN1)
    assert info.value.characters == ("\U0001f600", "\u20ac")
    with pytest.raises(UnencodableText) as info:
        encode_text("\u4e2d\u6587 and \u4e2d", encoding=Encoding.GSM7)
    assert info.value.characters == ("\u4e2d", "\u6587")
    with pytest.raises(UnencodableText) as info:
        encode_text("`", encoding=Encoding.GSM7, national_languages=())
    assert info.value.characters == ("`",)
    # ... but the Portuguese locking shift table has it.
    assert encode_text("`", encoding=Encoding.GSM7).national is PORTUGUESE
    with pytest.raises(UnencodableText):
        encode_text("\ud800", encoding=Encoding.UCS2)  # lone surrogate


# --- transliteration ------------------------------------------------------------------------


def test_transliteration_avoids_ucs2_and_reports() -> None:
    text = "It\u2019s \u201cdone\u201d \u2014 see\u2026 \u00a0ok"
    assert encode_text(text).encoding is Encoding.UCS2
    encoded = encode_text(text, transliterate=True)
    assert encoded.encoding is Encoding.GSM7
    assert encoded.text == 'It\'s "done" - see...  ok'
    assert encoded.replaced == (
        ("\u2019", "'"),
        ("\u201c", '"'),
        ("\u201d", '"'),
        ("\u2014", "-"),
        ("\u2026", "..."),
        ("\u00a0", " "),
    )


def test_transliteration_skipped_when_ucs2_is_needed_anyway() -> None:
    text = "It\u2019s \U0001f600"
    encoded = encode_text(text, transliterate=True)
    assert encoded.encoding is Encoding.UCS2
    assert encoded.text == text
    assert encoded.replaced == ()
    assert encoded.ucs2_forced_by == ("\u2019", "\U0001f600")


def test_transliteration_combines_with_national_tables() -> None:
    encoded = encode_text("\u015eimdi \u2014 tamam", transliterate=True)
    assert (encoded.encoding, encoded.national) == (Encoding.GSM7, TURKISH)
    assert encoded.replaced == (("\u2014", "-"),)


def test_transliteration_targets_are_default_alphabet() -> None:
    for source, target in REPLACEMENTS.items():
        assert source not in DEFAULT.charset
        assert set(target) <= DEFAULT.charset, source


def test_pinned_gsm7_with_transliteration() -> None:
    encoded = encode_text("a\u2013b", encoding=Encoding.GSM7, transliterate=True)
    assert encoded.text == "a-b"
    latin = encode_text("a\u2013b\u00e9", encoding=Encoding.LATIN1, transliterate=True)
    assert latin.segments[0].payload == b"a-b\xe9"


# --- properties -----------------------------------------------------------------------------


def _decoded(encoded: EncodedText) -> str:
    body = b"".join(s.payload for s in encoded.segments)
    if encoded.encoding is Encoding.GSM7:
        lang = encoded.national
        return (
            decode_body(
                Encoding.GSM7,
                body,
                locking=lang if encoded.locking_shift else None,
                single=lang if encoded.single_shift else None,
            )
            or ""
        )
    return decode_body(encoded.encoding, body) or ""


def _weights(encoded: EncodedText) -> list[int]:
    if encoded.encoding is Encoding.GSM7:
        alpha = alphabet(
            encoded.national if encoded.locking_shift else None,
            encoded.national if encoded.single_shift else None,
        )
        return [2 if c in alpha.escaped else 1 for c in encoded.text]
    if encoded.encoding is Encoding.UCS2:
        return [2 if ord(c) > 0xFFFF else 1 for c in encoded.text]
    return [1] * len(encoded.text)


def _optimal_segments(weights: list[int], single: int, multi: int) -> int:
    """Dynamic programme: the fewest contiguous groups of whole characters within ``multi``."""
    if sum(weights) <= single:
        return 1
    inf = len(weights) + 1
    best = [0] + [inf] * len(weights)
    for end in range(1, len(weights) + 1):
        size = 0
        for start in range(end - 1, -1, -1):
            size += weights[start]
            if size > multi:
                break
            best[end] = min(best[end], best[start] + 1)
    return best[-1]


def _check_invariants(encoded: EncodedText, text: str) -> None:
    assert encoded.text == text
    assert _decoded(encoded) == text
    limit = encoded.characters_per_segment
    for segment in encoded.segments:
        assert segment.units <= limit
        if encoded.encoding is Encoding.GSM7:
            assert segment.units == len(segment.payload)
            # No escape left dangling at the end of a segment.
            trailing = len(segment.payload) - len(segment.payload.rstrip(b"\x1b"))
            assert trailing % 2 == 0
        elif encoded.encoding is Encoding.UCS2:
            assert segment.units * 2 == len(segment.payload)
            assert segment.payload.decode("utf-16-be") == segment.text  # no split pair
    weights = _weights(encoded)
    single = capacity(
        encoded.encoding, udh_octets(concatenated=False, national_ies=encoded.national_ies)
    )
    multi = capacity(
        encoded.encoding,
        udh_octets(concatenated=True, ref16=encoded.ref16, national_ies=encoded.national_ies),
    )
    assert len(encoded.segments) == _optimal_segments(weights, single, multi)


@settings(max_examples=300)
@given(gsm_text, st.booleans())
def test_gsm7_round_trip_and_optimal_split(text: str, ref16: bool) -> None:
    encoded = encode_text(text, ref16=ref16)
    assert encoded.encoding is Encoding.GSM7
    _check_invariants(encoded, text)


@settings(max_examples=200)
@given(extension_heavy, st.booleans())
def test_escape_heavy_round_trip_and_optimal_split(text: str, ref16: bool) -> None:
    _check_invariants(encode_text(text, ref16=ref16, national_languages=()), text)
    _check_invariants(encode_text(text, ref16=ref16), text)


@settings(max_examples=200)
@given(
    st.sampled_from([(1, None), (None, 1), (1, 1), (None, 2), (None, 3), (3, None), (3, 3)]),
    st.data(),
)
def test_national_round_trip(pair: tuple[int | None, int | None], data: st.DataObject) -> None:
    alpha = alphabet(*pair)
    text = data.draw(st.text(alphabet=st.sampled_from(sorted(alpha.charset)), max_size=500))
    encoded = encode_text(text)
    if encoded.encoding is Encoding.GSM7:
        _check_invariants(encoded, text)
    else:  # a draw mixing e.g. Portuguese-only and default-only characters
        assert encoded.ucs2_forced_by
        _check_invariants(encoded, text)


@settings(max_examples=300)
@given(st.one_of(unicode_text, emoji_text), st.booleans())
def test_unicode_round_trip_and_optimal_split(text: str, ref16: bool) -> None:
    encoded = encode_text(text, ref16=ref16)
    _check_invariants(encoded, text)
    if encoded.encoding is Encoding.UCS2:
        assert encoded.ucs2_forced_by
        assert all(c in text for c in encoded.ucs2_forced_by)


@given(unicode_text)
def test_pinned_ucs2_round_trip(text: str) -> None:
    _check_invariants(encode_text(text, encoding=Encoding.UCS2), text)


@pytest.mark.parametrize(
    ("text", "kwargs"),
    [("hello", {}), ("x" * 200, {}), ("Ödeme ğ", {}), ("“quoted”", {"transliterate": True})],
)
def test_ucs2_forced_by_is_empty_unless_ucs2_was_chosen(text: str, kwargs: dict[str, bool]) -> None:
    encoded = encode_text(text, **kwargs)  # type: ignore[arg-type]
    assert encoded.encoding is not Encoding.UCS2
    assert encoded.ucs2_forced_by == ()


def test_an_odd_length_ucs2_body_counts_its_last_octet_as_a_unit() -> None:
    """An ESME's malformed UCS2 body of 141 octets must not pass as 70 units (140 octets)."""
    assert body_units(Encoding.UCS2, b"\x00a" * 70) == 70 == capacity(Encoding.UCS2, 0)
    assert body_units(Encoding.UCS2, b"\x00a" * 70 + b"\x00") == 71
    assert body_units(Encoding.GSM7, b"a" * 161) == 161
