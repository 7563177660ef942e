"""Inbound reassembly and concatenation reference allocation."""

from __future__ import annotations

import random

import pytest

from gateway.text import (
    ConcatReferenceAllocator,
    ConcatReferencesExhaustedError,
    DecodedPart,
    Encoding,
    ReassembledMessage,
    Reassembler,
    decode_short_message,
)


def gsm(body: bytes, concat: tuple[int, int, int] | None = None) -> DecodedPart:
    return DecodedPart(Encoding.GSM7, 0, body, concat)


def ucs2(body: bytes, concat: tuple[int, int, int] | None = None) -> DecodedPart:
    return DecodedPart(Encoding.UCS2, 8, body, concat)


def test_standalone_part_is_delivered_at_once() -> None:
    message = Reassembler().add("k", gsm(b"hi"), 1.0)
    assert message is not None
    assert (message.text, message.total, message.incomplete, message.reference) == (
        "hi",
        1,
        False,
        None,
    )


def test_out_of_order_with_duplicates() -> None:
    r = Reassembler()
    assert r.add("k", gsm(b"cc", (5, 3, 3)), 0.0) is None
    assert r.add("k", gsm(b"aa", (5, 3, 1)), 1.0) is None
    assert r.add("k", gsm(b"XX", (5, 3, 1)), 2.0) is None  # duplicate: first copy wins
    message = r.add("k", gsm(b"bb", (5, 3, 2)), 3.0)
    assert message is not None
    assert (message.text, message.received, message.first_seen) == ("aabbcc", (1, 2, 3), 0.0)
    # A late duplicate after completion does not start a phantom message.
    assert r.add("k", gsm(b"bb", (5, 3, 2)), 4.0) is None
    assert len(r) == 0
    assert r.expire(1000.0) == []


def test_keys_and_references_are_separate_messages() -> None:
    r = Reassembler()
    assert r.add("a>b", gsm(b"1", (5, 2, 1)), 0.0) is None
    assert r.add("c>b", gsm(b"2", (5, 2, 2)), 0.0) is None
    assert r.add("a>b", gsm(b"3", (6, 2, 2)), 0.0) is None
    assert len(r) == 3


def test_mixed_udh8_udh16_and_sar() -> None:
    r = Reassembler()
    # Part 1 with an 8-bit UDH, part 2 with a 16-bit UDH, part 3 over SAR TLVs.
    p1 = decode_short_message(
        bytes.fromhex("0500030903") + b"\x01" + b"ab", data_coding=0, udhi=True, packed=False
    )
    p2 = decode_short_message(
        bytes.fromhex("06080400090302") + b"cd", data_coding=0, udhi=True, packed=False
    )
    p3 = decode_short_message(b"ef", data_coding=0, udhi=False, packed=False)
    assert r.add("k", p2, 0.0) is None
    assert r.add("k", p3, 0.0, sar=(9, 3, 3)) is None
    message = r.add("k", p1, 0.0)
    assert message is not None
    assert message.text == "abcdef"


def test_escape_pair_split_by_sender_is_joined() -> None:
    r = Reassembler()
    assert r.add("k", gsm(b"price 10\x1b", (1, 2, 1)), 0.0) is None
    message = r.add(
        "k", gsm(b"\x65 {ok}".replace(b"{", b"\x1b\x28").replace(b"}", b"\x1b\x29"), (1, 2, 2)), 0.0
    )
    assert message is not None
    assert message.text == "price 10\u20ac {ok}"


def test_surrogate_pair_split_by_sender_is_joined() -> None:
    data = "ok \U0001f600!".encode("utf-16-be")
    cut = data.index(b"\xde\x00")  # between the high and the low surrogate
    r = Reassembler()
    assert r.add("k", ucs2(data[cut:], (2, 2, 2)), 0.0) is None
    message = r.add("k", ucs2(data[:cut], (2, 2, 1)), 0.0)
    assert message is not None
    assert message.text == "ok \U0001f600!"


def test_national_shift_from_parts_applies_to_joined_body() -> None:
    # Turkish single shift: ESC 0x73 is s-cedilla; split across parts.
    r = Reassembler()
    first = DecodedPart(Encoding.GSM7, 0, b"a\x1b", (4, 2, 1), None, 1)
    second = DecodedPart(Encoding.GSM7, 0, b"\x73b", (4, 2, 2), None, 1)
    assert r.add("k", second, 0.0) is None
    message = r.add("k", first, 0.0)
    assert message is not None
    assert message.text == "a\u015fb"


def test_missing_part_times_out_as_incomplete() -> None:
    r = Reassembler(timeout=60.0)
    r.add("k", gsm(b"one ", (3, 3, 1)), 0.0)
    r.add("k", gsm(b"three", (3, 3, 3)), 10.0)
    assert r.expire(69.0) == []  # idle time counts from the last part
    expired = r.expire(70.0)
    assert len(expired) == 1
    message = expired[0]
    assert (message.incomplete, message.received, message.text) == (True, (1, 3), "one three")
    assert len(r) == 0


def test_memory_bound_evicts_oldest_as_incomplete() -> None:
    r = Reassembler(max_pending=3)
    for ref in range(5):
        r.add("k", gsm(b"x", (ref, 2, 1)), float(ref))
    assert len(r) == 3
    evicted = r.expire(0.0)  # nothing timed out yet: only the two evicted ones
    assert [m.reference for m in evicted] == [0, 1]
    assert all(m.incomplete for m in evicted)

    seen: list[ReassembledMessage] = []
    r2 = Reassembler(max_pending=1, on_evict=seen.append)
    r2.add("k", gsm(b"x", (1, 2, 1)), 0.0)
    r2.add("k", gsm(b"y", (2, 2, 1)), 0.0)
    assert [m.reference for m in seen] == [1]


def test_mixed_encodings_are_decoded_per_part() -> None:
    r = Reassembler()
    r.add("k", gsm(b"ab", (1, 2, 1)), 0.0)
    message = r.add("k", ucs2("\u00e9".encode("utf-16-be"), (1, 2, 2)), 0.0)
    assert message is not None
    assert message.text == "ab\u00e9"


def test_binary_parts_keep_bytes() -> None:
    r = Reassembler()
    r.add("k", DecodedPart(Encoding.BINARY, 4, b"\x00\x01", (1, 2, 1)), 0.0)
    message = r.add("k", DecodedPart(Encoding.BINARY, 4, b"\xff", (1, 2, 2)), 0.0)
    assert message is not None
    assert (message.text, message.body) == (None, b"\x00\x01\xff")


def test_invalid_sar_position_is_rejected() -> None:
    with pytest.raises(ValueError, match="position"):
        Reassembler().add("k", gsm(b"x"), 0.0, sar=(1, 2, 3))


# --- ConcatReferenceAllocator ----------------------------------------------------------------


def test_references_cycle_and_wrap() -> None:
    allocator = ConcatReferenceAllocator(rng=random.Random(1))
    refs = [allocator.allocate("+4912345") for _ in range(256)]
    assert sorted(refs) == list(range(256))  # every reference once before any repeat
    with pytest.raises(ConcatReferencesExhaustedError):
        allocator.allocate("+4912345")
    allocator.release("+4912345", refs[10])
    assert allocator.allocate("+4912345") == refs[10]


def test_references_skip_those_in_use() -> None:
    allocator = ConcatReferenceAllocator(rng=random.Random(2))
    first = allocator.allocate("d")
    for _ in range(254):
        allocator.release("d", allocator.allocate("d"))
    # The counter wraps back to `first`, which is still in use, and skips it.
    second = allocator.allocate("d")
    assert second == (first + 255) % 256
    third = allocator.allocate("d")
    assert third != first


def test_references_are_per_destination_and_width() -> None:
    allocator = ConcatReferenceAllocator(rng=random.Random(3))
    a = allocator.allocate("a")
    b = allocator.allocate("b")
    assert allocator.allocate("a") == (a + 1) % 256
    assert allocator.allocate("b") == (b + 1) % 256
    wide = allocator.allocate("a", ref16=True)
    assert 0 <= wide <= 0xFFFF
    assert allocator.allocate("a", ref16=True) == (wide + 1) % 0x10000


def test_allocator_memory_is_bounded() -> None:
    allocator = ConcatReferenceAllocator(max_destinations=10)
    for n in range(100):
        allocator.allocate(f"+{n}")
    assert len(allocator) == 10
