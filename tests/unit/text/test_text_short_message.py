"""Rendering to and parsing from the SMPP short_message field, checked against hand-computed
bytes (TS 23.040 §9.2.3.24 UDH layout, TS 23.038 §6.1.2.1.1 packing)."""

from __future__ import annotations

import random

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gateway.text import (
    Concatenation,
    Encoding,
    InformationElement,
    NationalLanguage,
    Reassembler,
    concat_udh,
    decode_short_message,
    encode_text,
    parse_udh,
    render_short_message,
)
from gateway.text.gsm7 import DEFAULT, pack_padded

TURKISH = NationalLanguage.TURKISH


# --- concat_udh / parse_udh ----------------------------------------------------------------


def test_concat_udh_layouts() -> None:
    assert concat_udh(0x42, 3, 1) == bytes.fromhex("050003420301")
    assert concat_udh(0x1234, 3, 2, ref16=True) == bytes.fromhex("06080412340302")
    assert concat_udh(7, 1, 1) == b""
    assert concat_udh(7, 1, 1, national=TURKISH, single=True) == bytes.fromhex("03240101")
    assert concat_udh(7, 2, 2, national=TURKISH, locking=True, single=True) == bytes.fromhex(
        "0b0003070202240101250101"
    )


def test_concat_udh_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="8-bit"):
        concat_udh(256, 2, 1)
    with pytest.raises(ValueError, match="16-bit"):
        concat_udh(65536, 2, 1, ref16=True)
    with pytest.raises(ValueError, match="position"):
        concat_udh(1, 2, 3)
    with pytest.raises(ValueError, match="language"):
        concat_udh(1, 2, 1, single=True)


def test_parse_udh() -> None:
    elements, body = parse_udh(bytes.fromhex("0b000307020224010125010170ff") + b"x")
    assert elements == [
        InformationElement(0x00, bytes([7, 2, 2])),
        InformationElement(0x24, b"\x01"),
        InformationElement(0x25, b"\x01"),
    ]
    assert body == bytes.fromhex("70ff") + b"x"
    assert parse_udh(b"\x00abc") == ([], b"abc")


@pytest.mark.parametrize("data", [b"", b"\x05\x00\x03", b"\x03\x00\x05\x01", b"\x01\x00"])
def test_parse_udh_rejects_malformed(data: bytes) -> None:
    with pytest.raises(ValueError, match="UDH"):
        parse_udh(data)


# --- render_short_message, hand-computed ---------------------------------------------------


def test_single_gsm7_packed_and_unpacked() -> None:
    encoded = encode_text("hellohello")
    part = render_short_message(encoded, 0, reference=9)
    assert (part.short_message.hex(), part.esm_class_flags, part.data_coding) == (
        "e8329bfd4697d9ec37",
        0,
        0,
    )
    assert (part.sar, part.message_payload) == (None, None)
    assert (
        render_short_message(encoded, 0, reference=9, packed=False).short_message == b"hellohello"
    )


def _reference_pack(septets: bytes, fill: int) -> bytes:
    """TS 23.038 §6.1.2.1.1 written out: septet i at bits fill + 7i, LSB first."""
    bits = fill + 7 * len(septets)
    value = sum(s << (fill + 7 * i) for i, s in enumerate(septets))
    if bits % 8 == 1:  # 7 spare bits: CR pad (TS 23.038 §6.1.2.3.1)
        value |= 0x0D << bits
        bits += 7
    return value.to_bytes((bits + 7) // 8, "little")


def test_udh8_parts_with_one_fill_bit() -> None:
    encoded = encode_text("a" * 161)
    assert [s.units for s in encoded.segments] == [153, 8]
    part = render_short_message(encoded, 1, reference=7)
    # UDH 05 00 03 07 02 02 (6 octets, 48 bits) -> 1 fill bit; 8 septets + 1 bit = 57 bits,
    # so the 7 spare bits get a CR: 0xC2 = 0x61 << 1 for the first octet.
    assert part.short_message[:7].hex() == "050003070202c2"
    assert part.short_message[6:] == _reference_pack(b"a" * 8, 1)
    assert part.esm_class_flags == 0x40
    first = render_short_message(encoded, 0, reference=7)
    assert first.short_message[:6] == bytes.fromhex("050003070201")
    assert len(first.short_message) == 140  # 6 + (1 + 153 * 7) / 8
    assert first.short_message[6:] == _reference_pack(b"a" * 153, 1)
    unpacked = render_short_message(encoded, 1, reference=7, packed=False)
    assert unpacked.short_message.hex() == "050003070202" + "61" * 8


def test_udh16_needs_no_fill_bits() -> None:
    encoded = encode_text("a" * 161, ref16=True)
    assert [s.units for s in encoded.segments] == [152, 9]
    part = render_short_message(encoded, 1, reference=0x1234, concatenation=Concatenation.UDH16)
    # UDH 06 08 04 12 34 02 02 is 7 octets = 56 bits = 8 septets exactly: no fill.
    assert part.short_message[:8].hex() == "06080412340202e1"  # 0x61 | (0x61 << 7) & 0xFF
    assert part.short_message[7:] == _reference_pack(b"a" * 9, 0)
    first = render_short_message(encoded, 0, reference=0x1234, concatenation=Concatenation.UDH16)
    assert len(first.short_message) == 140  # 7 + 152 * 7 / 8


def test_udh16_refuses_text_split_for_udh8() -> None:
    encoded = encode_text("a" * 200)
    with pytest.raises(ValueError, match="ref16"):
        render_short_message(encoded, 0, reference=1, concatenation=Concatenation.UDH16)


def test_sar() -> None:
    encoded = encode_text("a" * 161)
    part = render_short_message(encoded, 1, reference=0x1234, concatenation=Concatenation.SAR)
    assert (part.short_message, part.esm_class_flags, part.sar) == (
        _reference_pack(b"a" * 8, 0),
        0,
        (0x1234, 2, 2),
    )
    single = render_short_message(
        encode_text("hi"), 0, reference=5, concatenation=Concatenation.SAR
    )
    assert single.sar is None
    with pytest.raises(ValueError, match="sar_msg_ref_num"):
        render_short_message(encoded, 0, reference=70000, concatenation=Concatenation.SAR)


def test_payload() -> None:
    encoded = encode_text("a" * 161)
    part = render_short_message(encoded, 0, reference=1, concatenation=Concatenation.PAYLOAD)
    assert part.short_message == b""
    assert part.sar is None
    assert part.message_payload == pack_padded(b"a" * 161) == _reference_pack(b"a" * 161, 0)
    assert len(part.message_payload) == 141  # 1127 bits
    raw = render_short_message(
        encoded, 0, reference=1, packed=False, concatenation=Concatenation.PAYLOAD
    )
    assert raw.message_payload == b"a" * 161
    with pytest.raises(ValueError, match="index 0"):
        render_short_message(encoded, 1, reference=1, concatenation=Concatenation.PAYLOAD)
    with pytest.raises(ValueError, match="national"):
        render_short_message(
            encode_text("\u015f"), 0, reference=1, concatenation=Concatenation.PAYLOAD
        )


def test_turkish_single_shift_with_fill_and_cr_pad() -> None:
    encoded = encode_text("\u015f")
    part = render_short_message(encoded, 0, reference=0)
    # UDH 03 24 01 01 (4 octets -> 3 fill bits); ESC 0x1B, 0x73, then a CR pad in the 7 spare
    # bits: (0x1B << 3) | (0x73 << 10) | (0x0D << 17) = 0x1BCCD8 -> D8 CC 1B.
    assert part.short_message.hex() == "03240101d8cc1b"
    assert part.esm_class_flags == 0x40
    decoded = decode_short_message(part.short_message, data_coding=0, udhi=True)
    assert decoded.national_single == TURKISH
    assert decoded.text() == "\u015f"


def test_ucs2_and_latin1() -> None:
    encoded = encode_text("\U0001f600" * 40)
    part = render_short_message(encoded, 1, reference=3)
    assert part.short_message == bytes.fromhex("050003030202") + bytes.fromhex("d83dde00") * 7
    assert part.data_coding == 8
    latin = render_short_message(encode_text("\u00e9", encoding=Encoding.LATIN1), 0, reference=0)
    assert (latin.short_message, latin.data_coding) == (b"\xe9", 3)


# --- decode_short_message ------------------------------------------------------------------


def test_decode_short_message_concat_ies() -> None:
    part = decode_short_message(bytes.fromhex("050003070202c2"), data_coding=0, udhi=True)
    assert (part.concat, part.body, part.text()) == ((7, 2, 2), b"a", "a")
    part16 = decode_short_message(bytes.fromhex("0608041234020261"), data_coding=0, udhi=True)
    assert part16.concat == (0x1234, 2, 2)
    # TS 23.040 §9.2.3.24.1: sequence 0 or above the total -> the IE is ignored.
    bad = decode_short_message(bytes.fromhex("050003070203c2"), data_coding=0, udhi=True)
    assert bad.concat is None
    assert decode_short_message(b"hi", data_coding=0, udhi=False, packed=False).text() == "hi"
    # Eighth bit set by a sloppy sender is ignored in unpacked GSM 7-bit.
    assert decode_short_message(b"\xe8i", data_coding=0, udhi=False, packed=False).text() == "hi"


@pytest.mark.parametrize(
    ("data_coding", "encoding"),
    [
        (0, Encoding.GSM7),
        (1, Encoding.LATIN1),
        (3, Encoding.LATIN1),
        (8, Encoding.UCS2),
        (4, Encoding.BINARY),
        (2, Encoding.BINARY),
        (6, Encoding.BINARY),
        (0x11, Encoding.GSM7),
        (0x18, Encoding.UCS2),
        (0x15, Encoding.BINARY),
        (0x31, Encoding.BINARY),
        (0xF0, Encoding.GSM7),
        (0xF4, Encoding.BINARY),
        (0xC8, Encoding.GSM7),
        (0xE0, Encoding.UCS2),
        (0x90, Encoding.BINARY),
    ],
)
def test_data_coding_mapping(data_coding: int, encoding: Encoding) -> None:
    assert decode_short_message(b"", data_coding=data_coding, udhi=False).encoding is encoding


# --- end to end: render every part, parse, reassemble in random order -----------------------

any_text = st.one_of(
    st.text(alphabet=st.sampled_from(sorted(DEFAULT.charset)), max_size=500),
    st.text(alphabet=st.sampled_from("a\u015f\u0131\u011f{ \u20ac"), max_size=500),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300),
)


@settings(max_examples=300)
@given(any_text, st.sampled_from(list(Concatenation)), st.booleans(), st.randoms())
def test_render_parse_reassemble_round_trip(
    text: str, mode: Concatenation, packed: bool, rnd: random.Random
) -> None:
    ref16 = mode is Concatenation.UDH16
    encoded = encode_text(text, ref16=ref16)
    assume(not (mode is Concatenation.PAYLOAD and encoded.national is not None))
    if packed and encoded.encoding is Encoding.GSM7:
        # TS 23.038 §6.1.2.3.1: a CR that ends a part on an octet boundary reads as padding.
        assume(not any(s.text.endswith("\r") for s in encoded.segments))
    count = 1 if mode is Concatenation.PAYLOAD else len(encoded.segments)
    parts = [
        render_short_message(encoded, i, reference=200, packed=packed, concatenation=mode)
        for i in range(count)
    ]
    rnd.shuffle(parts)
    reassembler = Reassembler()
    results = []
    for rendered in parts:
        assert len(rendered.short_message) <= 140 or packed is False
        data = rendered.message_payload if mode is Concatenation.PAYLOAD else rendered.short_message
        assert data is not None
        decoded = decode_short_message(
            data,
            data_coding=rendered.data_coding,
            udhi=bool(rendered.esm_class_flags & 0x40),
            packed=packed,
        )
        message = reassembler.add("a>b", decoded, 0.0, sar=rendered.sar)
        if message is not None:
            results.append(message)
    assert len(results) == 1
    assert results[0].text == encoded.text
    assert not results[0].incomplete
    assert len(reassembler) == 0
