"""FailedAuthThrottle: free failures, doubling pauses with a cap, cleared by a success, and
bounded memory however many addresses fail."""

from __future__ import annotations

from gateway.auth_throttle import FailedAuthThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_pause_starts_after_the_free_failures_and_doubles_to_the_cap() -> None:
    clock = Clock()
    throttle = FailedAuthThrottle(free=2, base=1.0, cap=4.0, clock=clock)
    pauses = []
    for _ in range(6):
        throttle.failed("10.0.0.1")
        pauses.append(throttle.retry_after("10.0.0.1"))
    assert pauses == [0.0, 0.0, 1.0, 2.0, 4.0, 4.0]
    assert throttle.retry_after("10.0.0.2") == 0.0  # per address
    clock.now += 3.0
    assert throttle.retry_after("10.0.0.1") == 1.0
    throttle.succeeded("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == 0.0 and len(throttle) == 0


def test_memory_is_bounded_and_the_oldest_address_forgotten() -> None:
    throttle = FailedAuthThrottle(free=0, max_entries=100, clock=Clock())
    for i in range(10_000):
        throttle.failed(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
    assert len(throttle) == 100
    assert throttle.retry_after("10.0.0.0") == 0.0  # forgotten
    assert throttle.retry_after("10.0.39.15") > 0  # the last one (9999) is remembered
