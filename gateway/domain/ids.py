"""Identifiers: time-ordered, unique without coordination between nodes.

A message id is 48 bits of milliseconds since the epoch followed by 80 random bits, written in
Crockford base32 (26 characters, ULID layout). Time order keeps inserts at the right edge of the
primary-key index on both stores; the random part makes ids unguessable across tenants.
"""

from __future__ import annotations

import os
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


# Two base32 digits (10 bits) per lookup: 13 steps per id instead of 26.
_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]


# The random part comes from the OS's CSPRNG in blocks of 256 ids: one system call per block
# instead of one per id. That call releases the GIL, and taking it back can wait for a thread
# running Python (the store's writer) for up to the interpreter's switch interval, so a call
# per message stalled the event loop far beyond its own cost. A forked child starts with an
# empty block, so it never repeats its parent's ids.
_RANDOM_BLOCK = 10 * 256


class _RandomBlock:
    __slots__ = ("at", "data")

    def __init__(self) -> None:
        self.data = b""
        self.at = _RANDOM_BLOCK  # the offset of the next unused 10 bytes

    def take_80_bits(self) -> int:
        at = self.at
        if at >= _RANDOM_BLOCK:
            self.data, at = os.urandom(_RANDOM_BLOCK), 0
        self.at = at + 10
        return int.from_bytes(self.data[at : at + 10], "big")

    def forget(self) -> None:
        self.data, self.at = b"", _RANDOM_BLOCK


_random = _RandomBlock()
os.register_at_fork(after_in_child=_random.forget)


def new_id(now: float | None = None) -> str:
    ms = int((time.time() if now is None else now) * 1000) & ((1 << 48) - 1)
    value = (ms << 80) | _random.take_80_bits()
    pairs = _PAIRS
    return "".join([pairs[(value >> shift) & 0x3FF] for shift in range(120, -1, -10)])


def is_valid_id(value: str) -> bool:
    return len(value) == 26 and all(c in _CROCKFORD for c in value)


def id_timestamp(value: str) -> float:
    """The creation time (seconds since the epoch) encoded in an id's first 10 characters."""
    ms = 0
    for ch in value[:10]:
        ms = ms * 32 + _CROCKFORD.index(ch)
    return ms / 1000.0
