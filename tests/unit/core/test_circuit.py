"""The circuit breaker: opens after failures in a row, probes once, backs off when the probe fails."""

from __future__ import annotations

from gateway.circuit import BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_consecutive_failures_only() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=3, open_for=10, clock=clock)
    breaker.failed()
    breaker.failed()
    breaker.succeeded()  # the streak is broken
    breaker.failed()
    breaker.failed()
    assert breaker.state is BreakerState.CLOSED and breaker.allow()
    breaker.failed()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow() and not breaker.available()
    assert breaker.reopens_in == 10


def test_half_open_lets_one_probe_through_and_its_success_closes() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=1, open_for=10, clock=clock)
    breaker.failed()
    clock.now += 10
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.available()
    assert breaker.allow()  # the probe
    assert not breaker.allow() and not breaker.available()  # only one at a time
    breaker.succeeded()
    assert breaker.state is BreakerState.CLOSED and breaker.allow()


def test_a_failed_probe_reopens_for_longer_up_to_the_cap() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=1, open_for=10, max_open_for=25, clock=clock)
    breaker.failed()
    for expected in (20, 25, 25):
        clock.now += breaker.reopens_in
        assert breaker.allow()
        breaker.failed()
        assert breaker.state is BreakerState.OPEN
        assert breaker.reopens_in == expected
    assert breaker.opened == 4
    clock.now += 25
    assert breaker.allow()
    breaker.succeeded()
    breaker.failed()  # closed again with the base open time
    assert breaker.reopens_in == 10
