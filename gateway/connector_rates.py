"""Each connector's sending rate: the configured one, and AIMD after a carrier throttles us.

A connector with a configured rate (segments/s) starts at it; one without is unlimited until it
is throttled, and is then held between what it carried until then and four times that. A throttle
halves the rate, which is then regained gradually; the limiter (in-process, or Redis when the
rate is shared across nodes) is reconfigured only when the rate really moved.
"""

from __future__ import annotations

import logging
import time

from gateway.metrics import Metrics
from gateway.ratelimit import Aimd, RateLimiter

log = logging.getLogger(__name__)


def limit_key(connector: str) -> str:
    return f"connector:{connector}"


class ConnectorRates:
    def __init__(self, *, limiter: RateLimiter, metrics: Metrics, rates: dict[str, float]) -> None:
        self._limiter = limiter
        self._metrics = metrics
        self._rates = dict(rates)
        self._aimd = {name: Aimd(rate) for name, rate in self._rates.items() if rate > 0}
        self._configured = {name: a.rate for name, a in self._aimd.items()}
        for name, rate in self._configured.items():
            self._limiter.configure(limit_key(name), rate)
        self._meters: dict[str, RateMeter] = {}

    def limited(self, name: str) -> bool:
        """Whether parts of `name` wait for its rate (configured, or since a throttle)."""
        return name in self._aimd

    def set(self, name: str, rate: float) -> None:
        """A connector's configured rate changed (0: unlimited)."""
        if self._rates.get(name, 0.0) == rate:
            return
        self._rates[name] = rate
        if rate > 0:
            self._aimd[name] = Aimd(rate)
            self._configured[name] = rate
        else:
            self._aimd.pop(name, None)
            self._configured.pop(name, None)
        self._limiter.configure(limit_key(name), rate)

    def carried(self, name: str) -> None:
        """One part of `name` was accepted by its carrier."""
        meter = self._meters.get(name)
        if meter is None:
            meter = self._meters[name] = RateMeter()
        meter.count()

    async def take(self, name: str) -> None:
        """Wait for `name`'s next token (call only when `limited`)."""
        rate = self._aimd[name].rate
        if abs(rate - self._configured[name]) > 0.01 * rate:  # recovering after a throttle
            self._configured[name] = rate
            self._limiter.configure(limit_key(name), rate)
            self._metrics.upstream_rate.labels(connector=name).set(rate)
        started = time.perf_counter()
        await self._limiter.acquire(limit_key(name))
        wait = time.perf_counter() - started
        self._metrics.child(self._metrics.ratelimit_wait, name).observe(wait)

    def throttled(self, name: str) -> None:
        """The carrier of `name` answered "throttled": slow down."""
        aimd = self._aimd.get(name)
        if aimd is None:
            # No configured rate and the carrier's limit is unknown: AIMD between what it
            # carried until now (often measured while traffic was still ramping up, hence
            # the floor of the ceiling) and four times that.
            meter = self._meters.get(name)
            carried = meter.current() if meter is not None else 0.0
            aimd = self._aimd[name] = Aimd(max(4 * carried, 100.0))
            self._configured[name] = 0.0
        rate = aimd.throttled()
        if rate != self._configured[name]:
            self._configured[name] = rate
            self._limiter.configure(limit_key(name), rate)
            self._metrics.upstream_rate.labels(connector=name).set(rate)
            log.info("upstream %s throttled us: rate now %.1f segments/s", name, rate)


class RateMeter:
    """What a connector carried lately, in segments/s: the starting point of its limit when it
    throttles us without one being configured."""

    __slots__ = ("_count", "_since", "rate")

    def __init__(self) -> None:
        self._count = 0
        self._since = time.monotonic()
        self.rate = 0.0

    def count(self) -> None:
        self._count += 1
        now = time.monotonic()
        if now - self._since >= 1.0:
            self.rate = self._count / (now - self._since)
            self._count = 0
            self._since = now

    def current(self) -> float:
        """The last full second's rate, or the running one when it is higher."""
        elapsed = time.monotonic() - self._since
        running = self._count / elapsed if elapsed > 0.1 else 0.0
        return max(self.rate, running)
