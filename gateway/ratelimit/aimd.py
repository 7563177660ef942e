"""AIMD: how fast to send to a carrier that says "slow down" (ESME_RTHROTTLED, HTTP 429).

Additive increase, multiplicative decrease, as TCP congestion control: a throttle answer cuts
the rate by a factor, then the rate climbs back by a fixed amount per second until the next
throttle or the configured ceiling. Pure and clock-injected; the caller applies `rate` to its
`RateLimiter` when it differs from what it configured last.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class Aimd:
    """The rate of one limit under AIMD.

    `rate` climbs in whole steps of `step` seconds (by `increase * step` each), not continuously,
    so "did it change?" is a cheap float compare that is true at most once per step, and the
    limiter is reconfigured a few times per recovery, not at every message.
    """

    def __init__(
        self,
        ceiling: float,
        *,
        floor: float | None = None,
        decrease: float = 0.5,
        increase: float | None = None,
        hold_off: float = 1.0,
        step: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (math.isfinite(ceiling) and ceiling > 0):
            raise ValueError(f"ceiling must be a positive rate in segments/s, got {ceiling!r}")
        # A floor of 0 would be a rate of 0, which a RateLimiter reads as "unlimited": the
        # opposite of what a throttled carrier wants. The default keeps one hundredth.
        floor = ceiling / 100 if floor is None else floor
        if not (math.isfinite(floor) and 0 < floor <= ceiling):
            raise ValueError(f"floor must be in (0, ceiling={ceiling}], got {floor!r}")
        if not 0 < decrease < 1:
            raise ValueError(f"decrease must be a factor in (0, 1), got {decrease!r}")
        increase = ceiling / 20 if increase is None else increase
        if not (math.isfinite(increase) and increase > 0):
            raise ValueError(f"increase must be a positive rate per second, got {increase!r}")
        if not (math.isfinite(hold_off) and hold_off >= 0):
            raise ValueError(f"hold_off must be seconds >= 0, got {hold_off!r}")
        if not (math.isfinite(step) and step > 0):
            raise ValueError(f"step must be seconds > 0, got {step!r}")
        self.ceiling = ceiling
        self.floor = floor
        self.decrease = decrease
        self.increase = increase
        self.hold_off = hold_off
        self.step = step
        self._clock = clock
        self._base = ceiling  # the rate set by the last decrease
        self._since: float | None = None  # when it was set; None once back at the ceiling

    @property
    def rate(self) -> float:
        """The rate to send at now: the last decrease plus the recovery since, in whole steps,
        capped at the ceiling."""
        if self._since is None:
            return self.ceiling
        steps = math.floor((self._clock() - self._since) / self.step)
        rate = self._base + steps * self.step * self.increase
        if rate >= self.ceiling:
            self._since = None  # recovered: later reads need no clock
            return self.ceiling
        return rate

    def throttled(self) -> float:
        """The carrier asked us to slow down: cut the rate and return it.

        Answers to requests that were already in flight when the first throttle came back say
        nothing new, so a burst of them within `hold_off` seconds of the last cut counts as one
        congestion event, not as one halving each.
        """
        now = self._clock()
        if self._since is not None and now - self._since < self.hold_off:
            return self.rate
        self._base = max(self.floor, self.rate * self.decrease)
        self._since = now
        return self._base
