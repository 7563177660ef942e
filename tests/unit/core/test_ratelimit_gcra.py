from __future__ import annotations

import math

import pytest

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


def test_reservations_are_served_in_order() -> None:
    clock = FakeClock()
    limit = Gcra(10, burst=1, clock=clock)
    waits = [limit.reserve() for _ in range(4)]
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3])


def test_a_take_larger_than_the_burst_is_spread_not_refused_forever() -> None:
    clock = FakeClock()
    limit = Gcra(10, burst=2, clock=clock)
    # try_take can never allow 5 at once with a burst of 2; a reservation waits its share.
    assert limit.try_take(5) > 0
    assert limit.reserve(5) == pytest.approx(0.3)


def test_cancel_gives_back_only_the_last_reservation() -> None:
    clock = FakeClock()
    limit = Gcra(10, burst=1, clock=clock)
    limit.reserve()
    limit.reserve()
    after_second = limit._tat
    limit.reserve()
    limit.cancel(1, after_second)  # a later reservation exists: nothing given back
    assert limit.reserve() == pytest.approx(0.3)
    last = limit._tat
    limit.cancel(1, last)
    assert limit.reserve() == pytest.approx(0.3)


def test_reconfigure_keeps_the_debt_and_paces_the_rest_at_the_new_rate() -> None:
    clock = FakeClock()
    limit = Gcra(10, burst=1, clock=clock)
    limit.reserve(10)  # one second of debt at 10/s
    limit.reconfigure(100)
    # The old debt ends at TAT = now + 1 s; the next segment goes then, paced at 100/s after.
    assert limit.reserve() == pytest.approx(1.0)
    assert limit.reserve() == pytest.approx(1.01)


def test_sender_under_reservations_holds_the_rate() -> None:
    """A sender that always sleeps exactly what reserve() says sends at the rate."""
    clock = FakeClock()
    limit = Gcra(100, burst=1, clock=clock)
    start = clock.now
    for _ in range(500):
        clock.now += limit.reserve()
    assert (clock.now - start) == pytest.approx(4.99)


@pytest.mark.parametrize(("rate", "burst"), [(math.nan, 1.0), (math.inf, 1.0), (10, math.nan)])
def test_nonsense_limits_are_refused(rate: float, burst: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        Gcra(rate, burst=burst)
