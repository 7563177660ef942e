"""GCRA (the generic cell rate algorithm) and the in-process rate limiter built on it.

GCRA is a token bucket kept as one number, the theoretical arrival time (TAT) of the next
segment: a take of n segments is allowed when TAT + n / rate - tolerance <= now, and moves TAT by
n / rate. One float per limit, no refill loop. The tolerance is `burst` intervals: how many
segments may go at once after an idle spell.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable


def check_limit(rate: float, burst: float) -> None:
    """Refuse a limit that would silently mean something else (NaN compares false everywhere)."""
    if math.isnan(rate) or math.isinf(rate):
        raise ValueError(f"rate must be a finite number of segments/s, got {rate!r}")
    if math.isnan(burst) or math.isinf(burst) or burst < 1:
        raise ValueError(f"burst must be a finite number of segments >= 1, got {burst!r}")


def check_take(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"segments to take must be an integer >= 1, got {n!r}")


class Gcra:
    def __init__(
        self, rate: float, *, burst: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._clock = clock
        self._tat = 0.0
        self.reconfigure(rate, burst=burst)

    def reconfigure(self, rate: float, *, burst: float = 1.0) -> None:
        """Change the rate, keeping the debt already taken: segments taken at the old rate stay
        taken, the next ones are spaced at the new rate."""
        if rate <= 0:
            raise ValueError("rate must be positive")
        check_limit(rate, max(burst, 1.0))
        self.rate = rate
        self.burst = max(burst, 1.0)
        self.interval = 1.0 / rate
        self.tolerance = self.burst * self.interval

    def try_take(self, n: int = 1) -> float:
        """Take `n` segments if allowed and return 0; else return the seconds to wait."""
        now = self._clock()
        tat = max(self._tat, now)
        new_tat = tat + n * self.interval
        allow_at = new_tat - self.tolerance
        if allow_at > now + 1e-9:  # not a float's rounding: a burst of n is n segments
            return allow_at - now
        self._tat = new_tat
        return 0.0

    def reserve(self, n: int = 1) -> float:
        """Take `n` segments now, ahead of time if need be, and return the seconds until they
        may go. Reservations are served in the order they were made, so waiters are fair, and
        a take larger than the burst is simply spread over time (with `try_take` it would never
        be allowed)."""
        now = self._clock()
        self._tat = max(self._tat, now) + n * self.interval
        return max(0.0, self._tat - self.tolerance - now)

    def cancel(self, n: int, tat: float) -> None:
        """Give back a reservation of `n` segments that left TAT at `tat`, if nothing was
        reserved after it: later waiters already sleep towards their own times, and moving TAT
        under them would let a newcomer go alongside them."""
        if self._tat == tat:
            self._tat -= n * self.interval

    async def take(self, n: int = 1) -> None:
        """Wait until `n` segments may go, then return: one sleep, never a polling loop."""
        wait = self.reserve(n)
        if wait <= 0:
            return
        reserved_tat = self._tat
        try:
            await asyncio.sleep(wait)
        except asyncio.CancelledError:
            self.cancel(n, reserved_tat)
            raise


class MemoryRateLimiter:
    """Limits of this process only: one `Gcra` per key. The default backend, and the one a
    node falls back to while Redis is unreachable. `nodes`: how many processes share each
    limit without a shared store (the workers of one host); each keeps to its share of it."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, nodes: int = 1) -> None:
        if nodes < 1:
            raise ValueError(f"nodes must be >= 1, got {nodes!r}")
        self._clock = clock
        self._nodes = nodes
        # None: configured as unlimited.
        self._limits: dict[str, Gcra | None] = {}

    def configure(self, key: str, rate: float, *, burst: float = 1.0) -> None:
        check_limit(rate, burst)
        if rate <= 0:
            self._limits[key] = None
            return
        rate, burst = rate / self._nodes, max(1.0, burst / self._nodes)
        limit = self._limits.get(key)
        if limit is None:
            self._limits[key] = Gcra(rate, burst=burst, clock=self._clock)
        else:
            limit.reconfigure(rate, burst=burst)

    async def acquire(self, key: str, n: int = 1) -> None:
        check_take(n)
        try:
            limit = self._limits[key]
        except KeyError:
            raise LookupError(f"rate limit {key!r} is not configured") from None
        if limit is not None:
            await limit.take(n)

    def try_acquire(self, key: str, n: int = 1) -> bool:
        check_take(n)
        try:
            limit = self._limits[key]
        except KeyError:
            raise LookupError(f"rate limit {key!r} is not configured") from None
        return limit is None or limit.try_take(n) == 0.0

    async def close(self) -> None:
        self._limits.clear()
