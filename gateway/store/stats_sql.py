"""SQL for delivery statistics, computed in the database on both stores.

One statement per grouping: a range scan of the (account_id, created_at, id) index, counts by
status, and latency percentiles by window functions (nearest rank: the smallest latency whose
rank is at least p * n), which SQLite (3.25+) and PostgreSQL both have. Nothing is streamed to
Python but one row per group.
"""

from __future__ import annotations

import phonenumbers

from gateway.domain.stats import Grouping, StatsRow
from gateway.store.sql import Row

# E.164 country calling codes are a prefix code (ITU-T E.164 §6.2.1): a number's code is the
# only one of its first one, two or three digits that is assigned. 1 and 7 are the one-digit
# codes; the two-digit ones come from libphonenumber's table, so the SQL needs no lookup table.
_TWO_DIGIT = sorted(str(c) for c in phonenumbers.COUNTRY_CODE_TO_REGION_CODE if 10 <= c < 100)
_CALLING_CODE = f"""CASE
    WHEN substr(destination, 2, 1) IN ('1', '7') THEN substr(destination, 2, 1)
    WHEN substr(destination, 2, 2) IN ({", ".join(f"'{c}'" for c in _TWO_DIGIT)})
        THEN substr(destination, 2, 2)
    ELSE substr(destination, 2, 3) END"""

# The day as a whole number of days since the epoch (UTC); the caller formats it.
_DAY = {
    "sqlite": "CAST(created_at / 86400 AS INTEGER)",
    "postgres": "CAST(FLOOR(created_at / 86400) AS BIGINT)",
}
# A message's connector is its first part's: parts of one message are sent together.
_CONNECTOR = "(SELECT p.connector FROM parts p WHERE p.message_id = m.id ORDER BY p.seq LIMIT 1)"

_FAILED = "('undelivered', 'expired', 'rejected', 'failed')"


def group_expression(grouping: Grouping | None, dialect: str) -> str:
    if grouping is None:
        return "'all'"
    if grouping == "day":
        return _DAY[dialect]
    if grouping == "country":
        return _CALLING_CODE
    if grouping == "batch":
        return "COALESCE(m.batch_id, '')"  # '': messages sent one at a time
    return _CONNECTOR


def stats_query(grouping: Grouping | None, dialect: str) -> str:
    """Parameters: account_id, start (inclusive), end (exclusive)."""
    return f"""
WITH base AS (
    SELECT CAST({group_expression(grouping, dialect)} AS TEXT) AS grp, status, submitted_at,
        done_at
    FROM messages m
    WHERE account_id = ? AND created_at >= ? AND created_at < ?
), totals AS (
    SELECT grp, COUNT(*) AS total,
        SUM(CASE WHEN submitted_at IS NOT NULL THEN 1 ELSE 0 END) AS sent,
        SUM(CASE WHEN status = 'delivered' THEN 1 ELSE 0 END) AS delivered,
        SUM(CASE WHEN status IN {_FAILED} THEN 1 ELSE 0 END) AS failed
    FROM base GROUP BY grp
), ranked AS (
    SELECT grp, done_at - submitted_at AS latency,
        ROW_NUMBER() OVER (PARTITION BY grp ORDER BY done_at - submitted_at) AS rn,
        COUNT(*) OVER (PARTITION BY grp) AS n
    FROM base
    WHERE status = 'delivered' AND submitted_at IS NOT NULL AND done_at IS NOT NULL
), percentiles AS (
    SELECT grp,
        MIN(CASE WHEN rn >= 0.50 * n THEN latency END) AS p50,
        MIN(CASE WHEN rn >= 0.90 * n THEN latency END) AS p90,
        MIN(CASE WHEN rn >= 0.99 * n THEN latency END) AS p99
    FROM ranked GROUP BY grp
)
SELECT t.grp, t.total, t.sent, t.delivered, t.failed, p.p50, p.p90, p.p99
FROM totals t LEFT JOIN percentiles p ON p.grp = t.grp
ORDER BY t.grp
"""


def stats_row(r: Row) -> StatsRow:
    return StatsRow(
        key=str(r[0]),
        total=int(r[1]),
        sent=int(r[2] or 0),
        delivered=int(r[3] or 0),
        failed=int(r[4] or 0),
        p50=None if r[5] is None else float(r[5]),
        p90=None if r[6] is None else float(r[6]),
        p99=None if r[7] is None else float(r[7]),
    )
