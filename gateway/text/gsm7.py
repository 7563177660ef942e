"""GSM 7-bit default alphabet, its extension table, septet packing and GSM 7-bit decoding.

Everything here works on *septet strings*: ``bytes`` holding one septet (0x00-0x7F) per octet.
Packing into the 8-bit wire form is a separate step (``pack_septets``) so that callers can choose,
per upstream, between packed and one-septet-per-octet short messages.
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

# TS 23.038 §6.2.1: septet 0x1B in the main table escapes to the extension table (or to a
# National Language Single Shift Table, §6.2.1.2.3) for the next septet only.
ESCAPE: Final = 0x1B
# TS 23.038 §6.1.1: carriage return, also the padding septet of §6.1.2.3.1 (see pack_padded).
CR: Final = 0x0D

# TS 23.038 §6.2.1 "GSM 7 bit default alphabet", indexed by septet value. Non-ASCII characters are
# written as escapes so that look-alikes (Greek capitals vs Latin) cannot slip in unnoticed.
# Position 0x1B is the escape code, not a character.
DEFAULT_ALPHABET: Final = (
    "@\u00a3$\u00a5\u00e8\u00e9\u00f9\u00ec\u00f2\u00c7\n\u00d8\u00f8\r\u00c5\u00e5"  # 0x00
    "\u0394_\u03a6\u0393\u039b\u03a9\u03a0\u03a8"  # 0x10
    "\u03a3\u0398\u039e\x1b\u00c6\u00e6\u00df\u00c9"  # 0x18
    " !\"#\u00a4%&'()*+,-./"  # 0x20
    "0123456789:;<=>?"  # 0x30
    "\u00a1ABCDEFGHIJKLMNO"  # 0x40
    "PQRSTUVWXYZ\u00c4\u00d6\u00d1\u00dc\u00a7"  # 0x50
    "\u00bfabcdefghijklmno"  # 0x60
    "pqrstuvwxyz\u00e4\u00f6\u00f1\u00fc\u00e0"  # 0x70
)

# TS 23.038 §6.2.1.1 "GSM 7 bit default alphabet extension table": the septet that follows an
# escape. 0x0A is the page break (rendered as FORM FEED); 0x0D (CR2) and 0x1B (escape to a further
# table) are control codes without a character and so are not listed.
DEFAULT_EXTENSION: Final[Mapping[int, str]] = {
    0x0A: "\x0c",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "\u20ac",
}

_SEPTET_COUNT: Final = 128
_LATIN1_MAX: Final = 0xFF
_C1: Final = "".join(map(chr, range(0x80, 0xA0)))  # ISO/IEC 6429 C1 controls, in no GSM table


@dataclass(frozen=True, slots=True)
class Alphabet:
    """One (locking table, single shift table) pair, with lookup tables built once.

    ``main`` is the 128-entry table used without escape (the default alphabet or a National
    Language Locking Shift Table); ``extension`` the table reached through ESC (the default
    extension table or a National Language Single Shift Table), TS 23.038 §6.2.1.2.
    """

    main: str
    extension: Mapping[int, str]
    # Every character this alphabet can carry, and those that cost two septets.
    charset: frozenset[str] = field(init=False, repr=False, compare=False)
    escaped: frozenset[str] = field(init=False, repr=False, compare=False)
    # Encoding runs in C (bytes.translate, bytes.replace): a per-character loop or a
    # str.translate with multi-character values (CPython's slow path) costs 20-40x more.
    # ``latin1_table`` maps each latin-1 octet to its septet, an extension character to
    # 0x80 | code (expanded to ESC + code by ``expansions``), and ``latin1_delete`` drops the
    # unencodable ones (a length change reveals them). Characters above U+00FF that the
    # alphabet holds (Greek capitals, the euro sign, Turkish letters) are first moved by
    # ``wide`` onto the C1 control range U+0080-U+009F, which no GSM table contains.
    latin1_table: bytes = field(init=False, repr=False, compare=False)
    latin1_delete: bytes = field(init=False, repr=False, compare=False)
    wide: tuple[tuple[str, str], ...] = field(init=False, repr=False, compare=False)
    expansions: tuple[tuple[bytes, bytes], ...] = field(init=False, repr=False, compare=False)
    # codecs.charmap_decode table for the main table, and the extension table with the fallback
    # of TS 23.038 §6.2.1.1 NOTE: an unknown escaped code shows the main-table character.
    decode_main: str = field(init=False, repr=False, compare=False)
    decode_extension: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.main) != _SEPTET_COUNT:
            raise ValueError("a GSM 7-bit table has exactly 128 entries")
        undefined = "\ufffe"  # codecs.charmap_decode's marker for "no character here"
        decode_main = "".join(
            undefined if code == ESCAPE else char for code, char in enumerate(self.main)
        )
        main_chars = set(decode_main) - {undefined}
        # A character in both tables takes the one-septet form.
        escaped = {code: char for code, char in self.extension.items() if char not in main_chars}
        septet_of = {char: _SEPTET_COUNT | code for code, char in escaped.items()}
        septet_of.update((char, code) for code, char in enumerate(decode_main) if char != undefined)
        wide = sorted(char for char in septet_of if ord(char) > _LATIN1_MAX)
        if len(wide) > len(_C1):
            raise ValueError("too many characters above U+00FF for the C1 staging range")
        staged = dict(zip(wide, _C1, strict=False))
        table = bytearray(256)
        keep = set()
        for char, septet in septet_of.items():
            octet = ord(staged.get(char, char))
            table[octet] = septet
            keep.add(octet)
        decode_extension = "".join(
            self.extension.get(code, decode_main[code]) for code in range(_SEPTET_COUNT)
        )
        # Escape after escape: TS 23.038 §6.2.1.1 asks receivers to show a space.
        decode_extension = decode_extension[:ESCAPE] + " " + decode_extension[ESCAPE + 1 :]
        object.__setattr__(self, "charset", frozenset(main_chars | set(escaped.values())))
        object.__setattr__(self, "escaped", frozenset(escaped.values()))
        object.__setattr__(self, "latin1_table", bytes(table))
        object.__setattr__(
            self, "latin1_delete", bytes(octet for octet in range(256) if octet not in keep)
        )
        object.__setattr__(self, "wide", tuple(staged.items()))
        object.__setattr__(
            self,
            "expansions",
            tuple(
                (bytes((_SEPTET_COUNT | code,)), bytes((ESCAPE, code))) for code in sorted(escaped)
            ),
        )
        object.__setattr__(self, "decode_main", decode_main)
        object.__setattr__(self, "decode_extension", decode_extension)

    def encode(self, text: str) -> bytes | None:
        """The septets for ``text``, or None when some character is not in this alphabet."""
        if not text.isascii():
            for char, stand_in in self.wide:
                if char in text:
                    if stand_in in text:
                        return None  # a real C1 control: in no GSM table, and ambiguous here
                    text = text.replace(char, stand_in)
            try:
                raw = text.encode("latin-1")
            except UnicodeEncodeError:
                return None
        else:
            raw = text.encode("ascii")
        data = raw.translate(self.latin1_table, self.latin1_delete)
        if len(data) != len(raw):
            return None
        if data.isascii():
            return data
        for marker, pair in self.expansions:
            if marker in data:
                data = data.replace(marker, pair)
        return data

    def decode(self, septets: bytes) -> str:
        """Inverse of ``encode``; tolerant of what other senders produce.

        A trailing lone escape (a sender that split an escape pair, or a truncated message) is
        dropped; a septet above 0x7F raises ValueError.
        """
        main = self.decode_main
        try:
            if ESCAPE not in septets:
                return codecs.charmap_decode(septets, "strict", main)[0]
            chunks = septets.split(b"\x1b")
            out = [codecs.charmap_decode(chunks[0], "strict", main)[0]]
            last = len(chunks) - 1
            i = 1
            while i <= last:
                chunk = chunks[i]
                if chunk:
                    # The escape applies to the first septet after it only.
                    out.append(self.decode_extension[chunk[0]])
                    out.append(codecs.charmap_decode(chunk[1:], "strict", main)[0])
                    i += 1
                elif i < last:
                    # ESC ESC: extension code 0x1B, then plain main-table septets.
                    out.append(self.decode_extension[ESCAPE])
                    out.append(codecs.charmap_decode(chunks[i + 1], "strict", main)[0])
                    i += 2
                else:
                    i += 1  # a trailing lone escape shows nothing
            return "".join(out)
        except (UnicodeDecodeError, IndexError) as exc:
            raise ValueError("not a GSM 7-bit septet string (value above 0x7F)") from exc


DEFAULT: Final = Alphabet(DEFAULT_ALPHABET, DEFAULT_EXTENSION)


# --- Packing (TS 23.038 §6.1.2.1.1) ---------------------------------------------------------
#
# Septet i occupies bits [fill + 7i, fill + 7i + 7) of a little-endian bit stream. Instead of a
# Python loop per septet, the whole segment is one int with a septet in every 8-bit lane, and
# log2(n) mask-and-shift rounds squeeze out the unused eighth bit of each lane: after round k
# every (8 << k)-bit unit holds (7 << k) packed bits at its bottom. A segment is at most 160
# septets (TS 23.040 §9.2.3.16), so 8 rounds (256 lanes) cover it; longer input is chunked.

_CHUNK_SEPTETS: Final = 256
_CHUNK_BITS: Final = _CHUNK_SEPTETS * 8
_ROUNDS: Final = 8  # 2**8 == _CHUNK_SEPTETS


def _repeat(pattern: int, period: int) -> int:
    return sum(pattern << offset for offset in range(0, _CHUNK_BITS, period))


_MERGE: Final[tuple[tuple[int, int, int], ...]] = tuple(
    (
        _repeat((1 << (7 << k)) - 1, 16 << k),  # bottom unit of each pair, its useful bits
        _repeat(((1 << (7 << k)) - 1) << (8 << k), 16 << k),  # top unit of each pair
        1 << k,  # the gap between them: (8 << k) - (7 << k)
    )
    for k in range(_ROUNDS)
)
_HIGH_BITS: Final = _repeat(0x80, 8)
_PACKED_CHUNK_BYTES: Final = _CHUNK_SEPTETS * 7 // 8
MAX_FILL_BITS: Final = 6  # TS 23.040 §9.2.3.24: fill up to the next septet boundary, 0..6 bits


def _check_fill(fill_bits: int) -> None:
    if not 0 <= fill_bits <= MAX_FILL_BITS:
        raise ValueError(f"fill_bits must be 0..{MAX_FILL_BITS}, not {fill_bits}")


# _MERGE_FOR[n]: the rounds needed for n septets (ceil(log2 n)), sliced once at import.
_MERGE_FOR: Final = tuple(
    _MERGE[: (count - 1).bit_length()] if count else () for count in range(_CHUNK_SEPTETS + 1)
)
_MASKS: Final = tuple(mask for low, high, _ in _MERGE for mask in (low, high))


def _pack_chunk(septets: bytes, masks: tuple[int, ...] = _MASKS) -> int:
    """Up to 256 septets as one int of packed bits (the rounds above, unrolled: this is the
    hot path of every GSM 7-bit render, and the loop overhead was a third of its cost)."""
    value = int.from_bytes(septets, "little")
    if value & _HIGH_BITS:
        raise ValueError("septets must be below 0x80")
    count = len(septets)
    if count > 1:
        _, h0, l1, h1, l2, h2, l3, h3, l4, h4, l5, h5, l6, h6, l7, h7 = masks
        # Round 0 moves the odd lanes down by one bit: v - h + (h >> 1) == v - (h >> 1).
        value -= (value & h0) >> 1
        if count > 2:
            value = (value & l1) | ((value & h1) >> 2)
        if count > 4:
            value = (value & l2) | ((value & h2) >> 4)
        if count > 8:
            value = (value & l3) | ((value & h3) >> 8)
        if count > 16:
            value = (value & l4) | ((value & h4) >> 16)
        if count > 32:
            value = (value & l5) | ((value & h5) >> 32)
        if count > 64:
            value = (value & l6) | ((value & h6) >> 64)
        if count > 128:
            value = (value & l7) | ((value & h7) >> 128)
    return value


def pack_septets(septets: bytes, fill_bits: int = 0) -> bytes:
    """Pack septets (one per octet) into the 7-bit wire form, TS 23.038 §6.1.2.1.1.

    ``fill_bits`` zero bits come first, so that the first septet starts on a septet boundary
    after a user data header (TS 23.040 §9.2.3.24). Unused bits of the last octet are zero.
    """
    if not 0 <= fill_bits <= MAX_FILL_BITS:
        _check_fill(fill_bits)
    count = len(septets)
    if count <= _CHUNK_SEPTETS:
        value = _pack_chunk(septets)
    else:
        # Whole chunks pack to whole octets (256 * 7 bits == 224 octets), so they concatenate.
        value = int.from_bytes(
            b"".join(
                _pack_chunk(septets[i : i + _CHUNK_SEPTETS]).to_bytes(_PACKED_CHUNK_BYTES, "little")
                for i in range(0, count, _CHUNK_SEPTETS)
            ),
            "little",
        )
    return (value << fill_bits).to_bytes((fill_bits + 7 * count + 7) // 8, "little")


def _unpack_chunk(value: int, count: int) -> bytes:
    for low, high, shift in reversed(_MERGE_FOR[count]):
        value = (value & low) | ((value << shift) & high)
    return value.to_bytes(count, "little")


def unpack_septets(data: bytes, count: int, fill_bits: int = 0) -> bytes:
    """Inverse of ``pack_septets``: ``count`` septets after ``fill_bits`` leading bits."""
    _check_fill(fill_bits)
    if count < 0 or fill_bits + 7 * count > 8 * len(data):
        raise ValueError(f"{len(data)} octets cannot hold {count} septets after {fill_bits} bits")
    value = (int.from_bytes(data, "little") >> fill_bits) & ((1 << (7 * count)) - 1)
    if count <= _CHUNK_SEPTETS:
        return _unpack_chunk(value, count)
    chunk_mask = (1 << (7 * _CHUNK_SEPTETS)) - 1
    return b"".join(
        _unpack_chunk((value >> (7 * start)) & chunk_mask, min(_CHUNK_SEPTETS, count - start))
        for start in range(0, count, _CHUNK_SEPTETS)
    )


def pack_padded(septets: bytes, fill_bits: int = 0) -> bytes:
    """``pack_septets``, padding with CR where 7 spare bits would otherwise end the data.

    An SMPP short_message carries no septet count, so a receiver derives it from the octet
    count; 7 zero spare bits would then read as a trailing '@'. TS 23.038 §6.1.2.3.1 solves the
    same ambiguity for USSD with a CR pad, which ``septet_count_from_octets`` strips again.
    """
    bits = fill_bits + 7 * len(septets)
    if bits % 8 == 1:
        septets += b"\r"
        bits += 7
    if len(septets) <= _CHUNK_SEPTETS and 0 <= fill_bits <= MAX_FILL_BITS:
        # Hot path (every GSM 7-bit segment): skip pack_septets' general handling.
        return (_pack_chunk(septets) << fill_bits).to_bytes((bits + 7) // 8, "little")
    return pack_septets(septets, fill_bits)


def unpack_padded(data: bytes, fill_bits: int = 0) -> bytes:
    """Unpack every septet ``data`` holds, dropping a CR pad written by ``pack_padded``.

    A text whose own last character is a CR ending exactly on an octet boundary loses that CR;
    TS 23.038 §6.1.2.3.1 accepts the same ambiguity (a trailing CR is harmless on display).
    """
    bits = 8 * len(data) - fill_bits
    if bits <= 0:
        return b""
    septets = unpack_septets(data, bits // 7, fill_bits)
    if bits % 7 == 0 and septets.endswith(b"\r"):
        return septets[:-1]
    return septets
