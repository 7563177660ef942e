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
_MAX_PASSES = 6


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


def _end_if_quiet(window: QuietHours, zone: ZoneInfo, at: float) -> float | None:
    """When the window that `at` falls in ends in `zone`; None if `at` is outside it there."""
    local = datetime.fromtimestamp(at, UTC).astimezone(zone)
    if not _quiet_at(window, _minute_of_day(local)):
        return None
    return _window_end(window, local, zone)


def quiet_until(number: str, at: float, window: QuietHours) -> float | None:
    """When a message for `number` due at `at` may go: None if `at` is outside the window in
    every zone the number may be in, else the first moment it is outside in all of them."""
    ends = [e for z in number_time_zones(number) if (e := _end_if_quiet(window, z, at))]
    if not ends:
        return None
    due = max(ends)
    # Moving to the latest end may land in another zone's next window (its evening): move on
    # again. When the zones leave a common daytime this settles in a pass or two.
    for _ in range(_MAX_PASSES):
        later = [e for z in number_time_zones(number) if (e := _end_if_quiet(window, z, due))]
        if not later:
            return due
        due = max(later)
    # The zones span more than the daytime is long (a toll-free NANP number: Guam to Pago
    # Pago), so no moment is outside the window everywhere: wait until it ends in every zone
    # where it is quiet at `at`, never more than a day.
    return max(ends)
