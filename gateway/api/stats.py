"""`GET /v1/stats`: sent, delivered, failed, delivery rate and latency percentiles of the
account's messages over a time range (at most 31 days), grouped by day, country or connector.
Computed by the store in SQL; see gateway/store/stats_sql.py."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

import phonenumbers
from fastapi import APIRouter, Query

from gateway.api.deps import AccountDep, ServicesDep
from gateway.api.errors import problem_responses
from gateway.api.instants import Instant, epoch_seconds
from gateway.domain.errors import StatsRangeTooLarge
from gateway.domain.stats import MAX_RANGE, StatsRow
from schemas.stats import GroupByName, Latency, StatsGroup, StatsPublic

router = APIRouter(prefix="/v1/stats", tags=["stats"])

DEFAULT_RANGE = 7 * 86400.0
TIMEOUT = 10.0


@router.get(
    "",
    response_model=StatsPublic,
    responses=problem_responses(401, 422, 503),
    summary="Delivery statistics over a time range",
)
async def get_stats(
    *,
    account: AccountDep,
    svc: ServicesDep,
    start: Annotated[Instant | None, Query(description="default: 7 days before end")] = None,
    end: Annotated[Instant | None, Query(description="default: now")] = None,
    group_by: GroupByName = "day",
) -> StatsPublic:
    until = epoch_seconds(end) if end is not None else time.time()
    since = epoch_seconds(start) if start is not None else until - DEFAULT_RANGE
    if not 0 < until - since <= MAX_RANGE:
        raise StatsRangeTooLarge(
            f"end must be after start and at most {MAX_RANGE / 86400:g} days later"
        )
    groups = await svc.store.message_stats(
        account_id=account.id, start=since, end=until, grouping=group_by, timeout=TIMEOUT
    )
    totals = await svc.store.message_stats(
        account_id=account.id, start=since, end=until, grouping=None, timeout=TIMEOUT
    )
    total = totals[0] if totals else StatsRow("all", 0, 0, 0, 0, None, None, None)
    return StatsPublic(
        start=since,
        end=until,
        group_by=group_by,
        total=_group(total, "all", None),
        groups=[_group(row, *_label(row.key, group_by)) for row in groups],
    )


def _label(key: str, group_by: GroupByName) -> tuple[str, str | None]:
    if group_by == "day":
        return datetime.fromtimestamp(int(key) * 86400, UTC).strftime("%Y-%m-%d"), None
    if group_by == "country":
        region = phonenumbers.region_code_for_country_code(int(key)) if key.isdigit() else None
        return f"+{key}", region if region and region != "ZZ" else None
    return key, None


def _group(row: StatsRow, key: str, country: str | None) -> StatsGroup:
    return StatsGroup(
        key=key,
        country=country,
        messages=row.total,
        sent=row.sent,
        delivered=row.delivered,
        failed=row.failed,
        delivery_rate=round(row.delivered / row.sent, 6) if row.sent else None,
        latency=Latency(p50=row.p50, p90=row.p90, p99=row.p99),
    )
