"""Concatenation references for outbound multipart messages.

A handset joins parts by (originator, reference, total), TS 23.040 §9.2.3.24.1: two multipart
messages in flight to the same destination from the same sender must not share a reference.
One allocator belongs to one sender (a bind or an account's sender ID), never to a module global
(STYLE.md); it hands out references per destination in sequence, skipping those still in use.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Final

# TS 23.040 §9.2.3.24.1 / §9.2.3.24.8: the reference is one octet, or two with IEI 0x08.
_SPACE_8: Final = 0x100
_SPACE_16: Final = 0x10000


class ConcatReferencesExhaustedError(RuntimeError):
    """Every reference to this destination is in use: back off until one is released."""


@dataclass(slots=True)
class _State:
    next: int
    in_use: set[int] = field(default_factory=set)


class ConcatReferenceAllocator:
    """Per-destination concatenation references for one sender.

    ``allocate`` returns the next reference not in use for that destination and marks it in
    use; ``release`` frees it once the last part is submitted (or has failed). References thus
    cycle through the whole space before repeating, and one still in use is never handed out
    again. Memory is bounded by keeping the ``max_destinations`` most recently used
    destinations. The first reference per destination is random so that a restart does not
    reuse the references of messages still being reassembled by handsets.
    """

    def __init__(
        self, *, max_destinations: int = 100_000, rng: random.Random | None = None
    ) -> None:
        if max_destinations < 1:
            raise ValueError("max_destinations must be >= 1")
        self.max_destinations = max_destinations
        self._rng = rng or random.Random()
        self._states: OrderedDict[tuple[str, bool], _State] = OrderedDict()

    def __len__(self) -> int:
        return len(self._states)

    def allocate(self, destination: str, *, ref16: bool = False) -> int:
        space = _SPACE_16 if ref16 else _SPACE_8
        key = (destination, ref16)
        state = self._states.get(key)
        if state is None:
            state = _State(self._rng.randrange(space))
            self._states[key] = state
            while len(self._states) > self.max_destinations:
                self._states.popitem(last=False)
        else:
            self._states.move_to_end(key)
        if len(state.in_use) >= space:
            raise ConcatReferencesExhaustedError(
                f"all {space} concatenation references to this destination are in use"
            )
        reference = state.next
        while reference in state.in_use:
            reference = (reference + 1) % space
        state.in_use.add(reference)
        state.next = (reference + 1) % space
        return reference

    def release(self, destination: str, reference: int, *, ref16: bool = False) -> None:
        """Mark a reference free again (unknown ones are ignored)."""
        state = self._states.get((destination, ref16))
        if state is not None:
            state.in_use.discard(reference)
