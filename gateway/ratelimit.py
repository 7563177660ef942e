"""Rate limits counted in segments: GCRA (the generic cell rate algorithm).

GCRA is a token bucket kept as one number, the theoretical arrival time (TAT) of the next
segment: a take of n segments is allowed when TAT - burst <= now, and moves TAT by n / rate.
One float per limit, no refill loop. This module holds the in-process limiter; a Redis-backed
one shares a limit between nodes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class Gcra:
    def __init__(
        self, rate: float, *, burst: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.interval = 1.0 / rate
        self.tolerance = max(burst, 1.0) * self.interval
        self._clock = clock
        self._tat = 0.0

    def try_take(self, n: int = 1) -> float:
        """Take `n` segments if allowed and return 0; else return the seconds to wait."""
        now = self._clock()
        tat = max(self._tat, now)
        new_tat = tat + n * self.interval
        allow_at = new_tat - self.tolerance
        if allow_at > now:
            return allow_at - now
        self._tat = new_tat
        return 0.0

    async def take(self, n: int = 1) -> None:
        while (wait := self.try_take(n)) > 0:  # noqa: ASYNC110 - pacing is the point
            await asyncio.sleep(wait)
