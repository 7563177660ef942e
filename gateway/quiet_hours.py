"""Quiet hours in the recipient's time zone, derived from the number (libphonenumber data).

A number's zone comes from its country and prefix (`phonenumbers.timezone`). When a number
spans several zones (a Russian or US mobile, whose prefix says nothing about where the handset
is), the conservative reading is taken: the message is held while it is quiet time in ANY of
those zones, until the first moment it is quiet time in NONE of them. A number libphonenumber
cannot place at all ("Etc/Unknown") is not held: there is no local time to respect.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_timezone

from gateway.domain.optout import QuietHours

_UNKNOWN = "Etc/Unknown"


@functools.lru_cache(maxsize=65_536)
def number_time_zones(number: str) -> tuple[ZoneInfo, ...]:
    """The zones an E.164 number may be in; empty when unknown. Cached: bulk traffic repeats
    numbers and prefixes."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return ()
    zones = []
    for name in phone_timezone.time_zones_for_number(parsed):
        if name == _UNKNOWN:
            continue
        try:
            zones.append(ZoneInfo(name))
        except ZoneInfoNotFoundError:  # tz data older than libphonenumber's
            continue
    return tuple(zones)


def _minute_of_day(local: datetime) -> int:
    return local.hour * 60 + local.minute


def _quiet_at(window: QuietHours, minute: int) -> bool:
    if window.start < window.end:
        return window.start <= minute < window.end
    return minute >= window.start or minute < window.end


def _window_end(window: QuietHours, local: datetime, zone: ZoneInfo) -> float:
    """Epoch seconds at which the quiet window containing `local` ends in `zone`."""
    day = local.date()
    if window.start > window.end and _minute_of_day(local) >= window.start:
        day += timedelta(days=1)  # the evening part of a window that ends tomorrow morning
    hours, minutes = divmod(window.end, 60)
    # A wall time skipped by a DST jump resolves forward (zoneinfo's fold=0 rule): still the
    # first moment after the window.
    end = datetime(day.year, day.month, day.day, hours, minutes, tzinfo=zone)
    return end.timestamp()


def quiet_until(number: str, at: float, window: QuietHours) -> float | None:
    """When a message for `number` due at `at` may go: None if `at` is outside the window in
    every zone the number may be in, else the first moment it is outside in all of them."""
    zones = number_time_zones(number)
    if not zones:
        return None
    due = at
    # Each pass moves `due` to the end of a window it was in; windows are at most a day long
    # and the zones of one number lie within a day of each other, so this settles quickly.
    for _ in range(2 * len(zones) + 2):
        moved = False
        for zone in zones:
            local = datetime.fromtimestamp(due, UTC).astimezone(zone)
            if _quiet_at(window, _minute_of_day(local)):
                due = max(due, _window_end(window, local, zone))
                moved = True
        if not moved:
            break
    return due if due > at else None
