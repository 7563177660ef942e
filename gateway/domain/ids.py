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


def new_id(now: float | None = None) -> str:
    ms = int((time.time() if now is None else now) * 1000) & ((1 << 48) - 1)
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
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
