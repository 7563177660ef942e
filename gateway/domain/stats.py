"""Delivery statistics of an account's messages over a time range, grouped one way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Grouping = Literal["day", "country", "connector", "batch"]

# A statistics query reads every message of the range: the range is capped so its cost is too.
MAX_RANGE = 31 * 86400.0


@dataclass(frozen=True, slots=True)
class StatsRow:
    """One group. `key` is the day (YYYY-MM-DD, UTC), the calling code or the connector;
    latencies (submit -> done, seconds) are nearest-rank percentiles of delivered messages."""

    key: str
    total: int
    sent: int
    delivered: int
    failed: int
    p50: float | None
    p90: float | None
    p99: float | None
