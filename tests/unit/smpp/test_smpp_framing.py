"""Framer: whole PDUs out of arbitrary chunks; bad command_length refused before buffering."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.smpp.codes import CommandStatus
from gateway.smpp.errors import RemoteProtocolError
from gateway.smpp.framing import Framer
from gateway.smpp.pdu import EnquireLink, GenericNack, SubmitSm, encode

FRAMES = [
    encode(EnquireLink(1)),
    encode(SubmitSm(2, source_addr="123", destination_addr="456", short_message=b"x" * 160)),
    encode(SubmitSm(3, short_message=b"")),
]


@given(
    st.lists(st.sampled_from(FRAMES), min_size=1, max_size=8),
    st.lists(st.integers(1, 64), min_size=1, max_size=50),
)
@settings(max_examples=500)
def test_frames_survive_any_chunking(frames: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(frames)
    framer = Framer()
    out: list[bytes] = []
    pos = 0
    i = 0
    while pos < len(stream):
        size = cuts[i % len(cuts)]
        out += framer.feed(stream[pos : pos + size])
        pos += size
        i += 1
    assert out == frames
    assert framer.buffered == 0


def test_one_byte_at_a_time() -> None:
    framer = Framer()
    out = [f for b in FRAMES[1] for f in framer.feed(bytes([b]))]
    assert out == [FRAMES[1]]


@pytest.mark.parametrize("length", [0, 1, 15])
def test_command_length_below_16_is_fatal(length: int) -> None:
    framer = Framer()
    with pytest.raises(RemoteProtocolError) as info:
        framer.feed(struct.pack(">IIII", length, 0x15, 0, 5))
    assert info.value.fatal
    assert info.value.command_status == CommandStatus.ESME_RINVCMDLEN
    assert info.value.reply == GenericNack(5, CommandStatus.ESME_RINVCMDLEN)


def test_command_length_above_max_is_refused_on_its_first_4_octets() -> None:
    framer = Framer(max_command_length=1024)
    with pytest.raises(RemoteProtocolError) as info:
        framer.feed(struct.pack(">I", 1025))
    assert info.value.fatal
    assert info.value.reply == GenericNack(0, CommandStatus.ESME_RINVCMDLEN)
    assert framer.buffered == 0


def test_huge_length_split_across_chunks_is_refused_without_buffering() -> None:
    framer = Framer(max_command_length=1024)
    assert framer.feed(b"\x7f\xff") == []
    with pytest.raises(RemoteProtocolError):
        framer.feed(b"\xff\xff" + b"\x00" * 4096)
    assert framer.buffered == 0


def test_buffer_never_exceeds_max_command_length() -> None:
    framer = Framer(max_command_length=64)
    frame = encode(SubmitSm(1, short_message=b"y" * 20))
    assert len(frame) <= 64
    for chunk in (frame[:10], frame[10:] + frame[:30], frame[30:]):
        framer.feed(chunk)
        assert framer.buffered <= 64


def test_frames_before_a_bad_header_are_returned_then_error_raised() -> None:
    framer = Framer()
    good = encode(EnquireLink(1))
    frames = framer.feed(good + struct.pack(">I", 3) + b"\x00" * 12)
    assert frames == [good]
    assert framer.pending_error
    with pytest.raises(RemoteProtocolError):
        framer.feed(b"")
    with pytest.raises(RemoteProtocolError):  # broken for good
        framer.feed(good)


def test_max_command_length_must_fit_a_header() -> None:
    with pytest.raises(ValueError, match="at least 16"):
        Framer(8)
