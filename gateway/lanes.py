"""Priority lanes of one connector: OTP before transactional before promotional, and none
starves.

Strict priority would let a flood of OTP (or of transactional traffic) hold promotional parts
back for as long as it lasts; a lane passed over `LANE_PATIENCE` times while not empty gets the
next turn instead. OTP keeps nearly every turn it wants (a promotional backlog costs it one turn
in 17 at most) and every lane keeps moving.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence

from gateway.domain import PartRecord

LANES = 3  # MessageType priorities 0..2

# A lane that waits while higher ones are served gets a turn after this many turns of theirs:
# OTP still goes first (a promotional burst costs an OTP at most one slot in 16), and neither
# transactional nor promotional traffic stalls behind a flood of higher-priority parts.
LANE_PATIENCE = (0, 4, 16)


class Lanes:
    """Priority lanes of one connector: the lowest non-empty lane is served first, except that
    a waiting lower lane is served once it has been passed over `LANE_PATIENCE` times."""

    def __init__(self, patience: Sequence[int] = LANE_PATIENCE) -> None:
        self._lanes: list[deque[PartRecord]] = [deque() for _ in range(LANES)]
        self._patience = tuple(patience)
        self._passed = [0] * LANES  # turns each lane waited through while not empty
        self._ready = asyncio.Event()
        self.size = 0

    def put(self, part: PartRecord) -> None:
        self._lanes[min(part.priority, LANES - 1)].append(part)
        self.size += 1
        self._ready.set()

    def remove(self, message_id: str) -> int:
        removed = 0
        for i, lane in enumerate(self._lanes):
            kept = deque(p for p in lane if p.message_id != message_id)
            removed += len(lane) - len(kept)
            self._lanes[i] = kept
        self.size -= removed
        return removed

    def _next_lane(self) -> int:
        """The lane to serve; called only when some lane is not empty."""
        lanes, passed = self._lanes, self._passed
        # The most patient waiting lane that has waited long enough, else the first non-empty.
        chosen = next(
            (i for i in range(LANES - 1, 0, -1) if lanes[i] and passed[i] >= self._patience[i]),
            None,
        )
        if chosen is None:
            chosen = next(i for i in range(LANES) if lanes[i])
        for i in range(LANES):
            passed[i] = passed[i] + 1 if lanes[i] and i != chosen else 0
        return chosen

    async def get(self) -> PartRecord:
        while not self.size:
            self._ready.clear()
            await self._ready.wait()
        self.size -= 1
        if not self.size:
            self._ready.clear()
        return self._lanes[self._next_lane()].popleft()
