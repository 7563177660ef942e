"""Quiet hours in the recipient's zone, conservative for numbers that span several zones."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from gateway.domain import MessageType
from gateway.domain.optout import QuietHours
from gateway.quiet_hours import number_time_zones, quiet_until

NEW_YORK = "+12125551234"
RIYADH = "+966501234567"
RUSSIA_MOBILE = "+79161234567"  # a mobile prefix spanning Kaliningrad to Kamchatka
WINDOW = QuietHours(enabled=True, start=21 * 60, end=8 * 60)


def _at(zone: str, *fields: int) -> float:
    return datetime(*fields, tzinfo=ZoneInfo(zone)).timestamp()  # type: ignore[misc]


def test_zone_comes_from_the_number() -> None:
    assert [z.key for z in number_time_zones(NEW_YORK)] == ["America/New_York"]
    assert [z.key for z in number_time_zones(RIYADH)] == ["Asia/Riyadh"]
    assert len(number_time_zones(RUSSIA_MOBILE)) > 5


def test_evening_in_the_recipients_zone_holds_until_the_morning_there() -> None:
    at = _at("America/New_York", 2026, 1, 15, 23, 0)
    assert quiet_until(NEW_YORK, at, WINDOW) == _at("America/New_York", 2026, 1, 16, 8, 0)


def test_early_morning_holds_until_the_same_mornings_end() -> None:
    at = _at("Asia/Riyadh", 2026, 1, 15, 7, 30)
    assert quiet_until(RIYADH, at, WINDOW) == _at("Asia/Riyadh", 2026, 1, 15, 8, 0)


def test_daytime_is_not_held() -> None:
    assert quiet_until(NEW_YORK, _at("America/New_York", 2026, 1, 15, 12, 0), WINDOW) is None
    # 21:00 in Riyadh is 13:00 in New York: only the recipient's zone counts.
    assert quiet_until(NEW_YORK, _at("Asia/Riyadh", 2026, 1, 15, 21, 0), WINDOW) is None


def test_window_within_one_day() -> None:
    lunch = QuietHours(start=12 * 60, end=14 * 60)
    at = _at("Asia/Riyadh", 2026, 1, 15, 13, 0)
    assert quiet_until(RIYADH, at, lunch) == _at("Asia/Riyadh", 2026, 1, 15, 14, 0)
    assert quiet_until(RIYADH, _at("Asia/Riyadh", 2026, 1, 15, 21, 0), lunch) is None


def _first_quiet_free_minute(number: str, at: float, window: QuietHours) -> float:
    """Brute force: the first whole minute from `at` that is outside the window everywhere."""
    zones = number_time_zones(number)
    t = at
    while True:
        quiet = False
        for zone in zones:
            local = datetime.fromtimestamp(t, UTC).astimezone(zone)
            minute = local.hour * 60 + local.minute
            if window.start > window.end:
                quiet |= minute >= window.start or minute < window.end
            else:
                quiet |= window.start <= minute < window.end
        if not quiet:
            return t
        t = (t // 60 + 1) * 60


@pytest.mark.parametrize("hour_utc", [0, 3, 6, 9, 12, 15, 18, 21])
def test_a_number_spanning_zones_waits_until_no_zone_is_quiet(hour_utc: int) -> None:
    at = datetime(2026, 1, 15, hour_utc, 0, tzinfo=UTC).timestamp()
    expected = _first_quiet_free_minute(RUSSIA_MOBILE, at, WINDOW)
    got = quiet_until(RUSSIA_MOBILE, at, WINDOW)
    assert (got or at) == expected


def test_otp_is_never_held_and_disabled_windows_hold_nothing() -> None:
    assert not WINDOW.applies_to(MessageType.OTP)
    assert WINDOW.applies_to(MessageType.PROMOTIONAL)
    assert not WINDOW.applies_to(MessageType.TRANSACTIONAL)
    assert not QuietHours(enabled=False).applies_to(MessageType.PROMOTIONAL)
    every = frozenset(MessageType)
    assert not QuietHours(enabled=True, types=every).applies_to(MessageType.OTP)
    assert not QuietHours().applies_to(MessageType.PROMOTIONAL)  # off by default


def test_an_unplaceable_number_is_not_held() -> None:
    assert number_time_zones("+888123456") == ()
    assert quiet_until("+888123456", 0.0, WINDOW) is None


def test_a_number_spanning_most_of_the_globe_is_held_at_most_a_day() -> None:
    toll_free = "+18005551234"  # NANP toll-free: Guam to Pago Pago, 42 zones
    held = 0
    for hour in range(24):
        at = datetime(2026, 1, 15, hour, 0, tzinfo=UTC).timestamp()
        got = quiet_until(toll_free, at, WINDOW)
        if got is not None:
            held += 1
            assert at < got <= at + 86_400
    assert held > 12
