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
from typing import Protocol


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


class RateLimiter(Protocol):
    def configure(self, key: str, rate: float, *, burst: float = 1.0) -> None: ...
    async def acquire(self, key: str, n: int = 1) -> None: ...
    async def close(self) -> None: ...


class MemoryRateLimiter:
    """Limits of this process only (a single node)."""

    def __init__(self) -> None:
        self._limits: dict[str, Gcra] = {}

    def configure(self, key: str, rate: float, *, burst: float = 1.0) -> None:
        if rate <= 0:
            self._limits.pop(key, None)
            return
        current = self._limits.get(key)
        if current is None:
            self._limits[key] = Gcra(rate, burst=burst)
        else:
            current.rate = rate
            current.interval = 1.0 / rate
            current.tolerance = max(burst, 1.0) * current.interval

    async def acquire(self, key: str, n: int = 1) -> None:
        limit = self._limits.get(key)
        if limit is not None:
            await limit.take(n)

    async def close(self) -> None:
        return None


class Aimd:
    """Additive increase, multiplicative decrease of one limit's rate."""

    def __init__(
        self,
        ceiling: float,
        *,
        floor: float | None = None,
        decrease: float = 0.5,
        increase: float | None = None,
        hold_off: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ceiling = ceiling
        self.floor = floor if floor is not None else max(ceiling / 100, 1.0)
        self._decrease = decrease
        self._increase = increase if increase is not None else ceiling / 20
        self._hold_off = hold_off
        self._clock = clock
        self._base = ceiling
        self._since = clock()
        self._last_decrease = -hold_off

    @property
    def rate(self) -> float:
        grown = self._base + self._increase * (self._clock() - self._since)
        return min(grown, self.ceiling)

    def throttled(self) -> float:
        now = self._clock()
        if now - self._last_decrease >= self._hold_off:
            self._base = max(self.rate * self._decrease, self.floor)
            self._since = now
            self._last_decrease = now
        return self.rate


def open_rate_limiter(redis_url: str | None) -> RateLimiter:
    return MemoryRateLimiter()
