"""Aimd on a fake clock: cut on throttle once per hold-off, recover in steps, floor, ceiling."""

from __future__ import annotations

import pytest

from gateway.ratelimit import Aimd


class FakeClock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_starts_at_the_ceiling_and_halves_on_a_throttle() -> None:
    clock = FakeClock()
    aimd = Aimd(100, clock=clock)
    assert aimd.rate == 100
    assert aimd.throttled() == 50
    assert aimd.rate == 50


def test_a_burst_of_throttles_within_the_hold_off_is_one_event() -> None:
    clock = FakeClock()
    aimd = Aimd(100, clock=clock)
    for _ in range(50):  # a window's worth of answers in flight
        aimd.throttled()
        clock.now += 0.01
    assert aimd.rate == 50
    clock.now = 51.0  # one hold-off after the first cut
    assert aimd.throttled() == pytest.approx((50 + 5) / 2)  # recovered one step, then cut


def test_recovers_additively_in_whole_steps_up_to_the_ceiling() -> None:
    clock = FakeClock()
    aimd = Aimd(100, clock=clock)  # increase: 100 / 20 = 5 per second
    aimd.throttled()
    clock.now += 0.99
    assert aimd.rate == 50  # no change inside a step: callers compare floats cheaply
    clock.now += 0.01
    assert aimd.rate == 55
    clock.now += 3.5
    assert aimd.rate == 70
    clock.now += 60
    assert aimd.rate == 100


def test_never_below_the_floor() -> None:
    clock = FakeClock()
    aimd = Aimd(100, floor=20, decrease=0.1, increase=10, clock=clock)
    for _ in range(5):
        aimd.throttled()
        clock.now += 1.0
    assert aimd.throttled() >= 20
    assert Aimd(100).floor == 1.0  # by default one hundredth, never zero (zero is unlimited)


def test_changes_are_visible_as_a_float_compare() -> None:
    clock = FakeClock()
    aimd = Aimd(40, increase=10, clock=clock)
    configured = aimd.rate
    changes = 0
    aimd.throttled()
    for _ in range(400):  # 4 s in 10 ms ticks, as a dispatcher checking per message
        clock.now += 0.01
        if aimd.rate != configured:
            configured = aimd.rate
            changes += 1
    assert configured == 40
    assert changes == 3  # 40 -> 20 (the cut), 30, 40: not one per tick


@pytest.mark.parametrize(
    "kwargs",
    [
        {"ceiling": 0},
        {"ceiling": float("inf")},
        {"ceiling": 10, "floor": 0},
        {"ceiling": 10, "floor": 11},
        {"ceiling": 10, "decrease": 1.0},
        {"ceiling": 10, "decrease": 0},
        {"ceiling": 10, "increase": -1},
        {"ceiling": 10, "hold_off": -1},
        {"ceiling": 10, "step": 0},
    ],
)
def test_bad_parameters_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        Aimd(**kwargs)
