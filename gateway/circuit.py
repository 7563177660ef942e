"""A circuit breaker per connector: a connector that keeps failing is taken out of rotation.

Closed: parts flow; `failures` temporary failures in a row open it. Open: the connector gets
nothing and its parts fail over to the next connector of their route (or wait, when there is
none) until `open_for` seconds have passed. Half-open: one probe part goes through; its success
closes the breaker, its failure opens it again for twice as long (capped), so a carrier that is
down for an hour is probed a few times, not thousands.

Pure and clock-injected; the dispatcher records outcomes and asks before sending.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        *,
        failures: int = 5,
        open_for: float = 30.0,
        max_open_for: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold = failures
        self._base_open_for = open_for
        self._open_for = open_for
        self._max_open_for = max_open_for
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self.opened = 0  # times it opened, for metrics

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._clock() >= self._opened_at + self._open_for:
            self._state = BreakerState.HALF_OPEN
            self._probing = False
        return self._state

    @property
    def reopens_in(self) -> float:
        """Seconds until an open breaker lets a probe through (0 when not open)."""
        if self.state is not BreakerState.OPEN:
            return 0.0
        return max(self._opened_at + self._open_for - self._clock(), 0.0)

    def allow(self) -> bool:
        """Whether a part may be sent now; in half-open state, only one probe at a time."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True
            return True
        return False

    def available(self) -> bool:
        """Whether the connector is in rotation (for choosing a failover), without taking the
        half-open probe."""
        state = self.state
        return state is BreakerState.CLOSED or (
            state is BreakerState.HALF_OPEN and not self._probing
        )

    def succeeded(self) -> None:
        self._failures = 0
        if self._state is not BreakerState.CLOSED:
            self._state = BreakerState.CLOSED
            self._open_for = self._base_open_for
        self._probing = False

    def failed(self) -> None:
        if self.state is BreakerState.HALF_OPEN:
            self._open_for = min(self._open_for * 2, self._max_open_for)
            self._open()
            return
        self._failures += 1
        if self._state is BreakerState.CLOSED and self._failures >= self._threshold:
            self._open()

    def _open(self) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = self._clock()
        self._probing = False
        self._failures = 0
        self.opened += 1
