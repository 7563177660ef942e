from __future__ import annotations

from gateway.ratelimit import Gcra


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_gcra_allows_the_configured_rate_and_no_more() -> None:
    clock = FakeClock()
    limit = Gcra(10, burst=1, clock=clock)
    allowed = 0
    for _ in range(1000):  # 10 seconds in steps of 10 ms
        if limit.try_take() == 0:
            allowed += 1
        clock.now += 0.01
    assert 99 <= allowed <= 101


def test_gcra_burst_then_paced() -> None:
    clock = FakeClock()
    limit = Gcra(10, burst=5, clock=clock)
    assert [limit.try_take() for _ in range(5)] == [0.0] * 5
    wait = limit.try_take()
    assert 0.09 < wait <= 0.1 + 1e-9
    clock.now += wait
    assert limit.try_take() == 0


def test_gcra_counts_segments() -> None:
    clock = FakeClock()
    limit = Gcra(10, burst=4, clock=clock)
    assert limit.try_take(4) == 0
    assert limit.try_take(4) > 0.3
