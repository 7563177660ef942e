"""Public models of delivery statistics."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

GroupByName = Literal["day", "country", "connector", "batch"]


class Latency(BaseModel):
    """Seconds from the carrier accepting a message (submitted) to its receipt (done), over
    delivered messages; nearest-rank percentiles."""

    p50: float | None
    p90: float | None
    p99: float | None


class StatsGroup(BaseModel):
    key: str = Field(description="day (YYYY-MM-DD, UTC), calling code (+49) or connector")
    country: str | None = Field(
        default=None, description="the main region of the calling code (country grouping)"
    )
    messages: int = Field(description="messages created in the range")
    sent: int = Field(description="of them, submitted to a carrier")
    delivered: int
    failed: int = Field(description="undelivered, expired, rejected or failed")
    delivery_rate: float | None = Field(description="delivered / sent; null when none was sent")
    latency: Latency


class StatsPublic(BaseModel):
    start: float
    end: float
    group_by: GroupByName
    total: StatsGroup
    groups: list[StatsGroup]
