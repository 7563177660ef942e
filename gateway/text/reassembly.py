"""Inbound (MO) reassembly of concatenated parts.

Parts arrive in any order, sometimes twice, with the concatenation in a UDH (8- or 16-bit
reference) or in SAR TLVs. Bodies are joined *before* decoding, so an escape pair or surrogate
pair that a sender split across two parts comes out whole. Memory is bounded: at most
``max_pending`` messages wait, the least recently active is evicted (and delivered as
incomplete) beyond that, and messages idle for ``timeout`` seconds are delivered as incomplete by
``expire``. The clock is an argument (``now``): nothing here reads time.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.text.codecs import Encoding, decode_body
from gateway.text.short_message import DecodedPart

# Pending messages are keyed by (caller key, reference, total): the same sender reusing a
# reference for a message with another part count is another message. The 8/16-bit and SAR forms
# share the key so that an upstream converting between them does not split a message.
_Key = tuple[str, int, int]


@dataclass(frozen=True, slots=True)
class ReassembledMessage:
    key: str
    text: str | None  # None for binary data
    body: bytes  # the joined bodies (GSM 7-bit as unpacked septets)
    encoding: Encoding
    data_coding: int
    reference: int | None
    total: int
    received: tuple[int, ...]  # sequence numbers that arrived, ascending
    incomplete: bool
    first_seen: float


@dataclass(slots=True)
class _Pending:
    first_seen: float
    last_seen: float
    parts: dict[int, DecodedPart] = field(default_factory=dict)


def _join(key: str, reference: int | None, total: int, pending: _Pending) -> ReassembledMessage:
    seqs = tuple(sorted(pending.parts))
    parts = [pending.parts[seq] for seq in seqs]
    first = parts[0]
    # The national shift IEs are repeated in every part; take them from any part that has them.
    locking = next((p.national_locking for p in parts if p.national_locking is not None), None)
    single = next((p.national_single for p in parts if p.national_single is not None), None)
    body = b"".join(part.body for part in parts)
    if all(part.encoding is first.encoding for part in parts):
        text = decode_body(first.encoding, body, locking=locking, single=single)
    else:
        # Mixed encodings across parts (rare, but seen): decode each part on its own.
        texts = [p.text() for p in parts]
        text = None if any(t is None for t in texts) else "".join(t or "" for t in texts)
    return ReassembledMessage(
        key=key,
        text=text,
        body=body,
        encoding=first.encoding,
        data_coding=first.data_coding,
        reference=reference,
        total=total,
        received=seqs,
        incomplete=len(seqs) < total,
        first_seen=pending.first_seen,
    )


class Reassembler:
    """Joins inbound parts per key (e.g. source + destination address)."""

    def __init__(
        self,
        max_pending: int = 10000,
        timeout: float = 300.0,
        *,
        on_evict: Callable[[ReassembledMessage], None] | None = None,
    ) -> None:
        if max_pending < 1 or timeout <= 0:
            raise ValueError("max_pending must be >= 1 and timeout > 0")
        self.max_pending = max_pending
        self.timeout = timeout
        self._on_evict = on_evict
        # Ordered by last activity, oldest first: eviction and expiry pop from the front.
        self._pending: OrderedDict[_Key, _Pending] = OrderedDict()
        # Recently completed messages, so that a late duplicate part does not start a new
        # message that can only ever time out as incomplete. Bounded like _pending.
        self._completed: OrderedDict[_Key, float] = OrderedDict()
        # Evicted messages waiting for expire() when no on_evict callback is set.
        self._evicted: list[ReassembledMessage] = []

    def __len__(self) -> int:
        return len(self._pending)

    def add(
        self,
        key: str,
        part: DecodedPart,
        now: float,
        *,
        sar: tuple[int, int, int] | None = None,
    ) -> ReassembledMessage | None:
        """Add a part; returns the message when this part completes it (or is standalone).

        ``sar`` overrides ``part.concat`` with SAR TLVs (reference, total, seq).
        """
        concat = sar if sar is not None else part.concat
        if concat is None or concat[1] <= 1:
            single = _Pending(now, now, {1: part})
            return _join(key, None if concat is None else concat[0], 1, single)
        reference, total, seq = concat
        if not 1 <= seq <= total:
            raise ValueError(f"part {seq} of {total} is not a valid concatenation position")
        message_key = (key, reference, total)
        done_at = self._completed.get(message_key)
        if done_at is not None:
            if now - done_at < self.timeout:
                return None  # a late duplicate of a message already delivered
            del self._completed[message_key]
        pending = self._pending.get(message_key)
        if pending is None:
            pending = _Pending(now, now)
            self._pending[message_key] = pending
            self._evict_overflow()
        else:
            self._pending.move_to_end(message_key)
            pending.last_seen = now
        if seq in pending.parts:
            return None  # duplicate: the first copy wins
        pending.parts[seq] = part
        if len(pending.parts) < total:
            return None
        del self._pending[message_key]
        self._completed[message_key] = now
        while len(self._completed) > self.max_pending:
            self._completed.popitem(last=False)
        return _join(key, reference, total, pending)

    def _evict_overflow(self) -> None:
        while len(self._pending) > self.max_pending:
            (key, reference, total), pending = self._pending.popitem(last=False)
            message = _join(key, reference, total, pending)
            if self._on_evict is not None:
                self._on_evict(message)
            else:
                self._evicted.append(message)

    def expire(self, now: float) -> list[ReassembledMessage]:
        """Messages idle for ``timeout`` (and any evicted since the last call), as incomplete."""
        out, self._evicted = self._evicted, []
        while self._pending:
            message_key, pending = next(iter(self._pending.items()))
            if now - pending.last_seen < self.timeout:
                break
            del self._pending[message_key]
            out.append(_join(*message_key, pending))
        while self._completed:
            message_key, done_at = next(iter(self._completed.items()))
            if now - done_at < self.timeout:
                break
            del self._completed[message_key]
        return out
