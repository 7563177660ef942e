"""SQL for accounts, keys, numbers, stored routes, usage counters and the config version, shared
by both dialects (`?` placeholders; PostgreSQL gets `$n` through `sql.numbered`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.domain import NewMessage
from gateway.domain.accounts import (
    AccountSettings,
    ApiKeyInfo,
    InboundNumber,
    StoredRoute,
    usage_day,
)
from gateway.store.sql import Row

ACCOUNT_COLUMNS = """id, name, active, rate_limit, daily_quota, spend_cap, allowed_senders, price,
    created_at, updated_at"""
SELECT_ACCOUNT = f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ? OR name = ?"
SELECT_ACCOUNTS = f"SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY name"
INSERT_ACCOUNT = f"INSERT INTO accounts ({ACCOUNT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
UPDATE_ACCOUNT = """
UPDATE accounts SET name = ?, active = ?, rate_limit = ?, daily_quota = ?, spend_cap = ?,
    allowed_senders = ?, price = ?, updated_at = ?
WHERE id = ?
"""

SELECT_KEYS = """
SELECT prefix, created_at, revoked_at FROM api_keys WHERE account_id = ?
ORDER BY created_at, prefix
"""
REVOKE_KEYS = """
UPDATE api_keys SET revoked_at = ? WHERE account_id = ? AND prefix = ? AND revoked_at IS NULL
"""

SELECT_CREDENTIALS = """
SELECT system_id, account_id, password_hash, allowed_networks, max_binds, throughput
FROM smpp_credentials WHERE account_id = ? ORDER BY created_at, system_id
"""
DELETE_CREDENTIAL = "DELETE FROM smpp_credentials WHERE account_id = ? AND system_id = ?"

SELECT_NUMBERS = """
SELECT number, account_id, created_at FROM numbers WHERE account_id = ? ORDER BY number
"""
DELETE_NUMBER = "DELETE FROM numbers WHERE account_id = ? AND number = ?"

SELECT_ROUTES = "SELECT name, position, rule, updated_at FROM route_rules ORDER BY position, name"
UPSERT_ROUTE = """
INSERT INTO route_rules (name, position, rule, updated_at) VALUES (?, ?, ?, ?)
ON CONFLICT (name) DO UPDATE SET position = excluded.position, rule = excluded.rule,
    updated_at = excluded.updated_at
"""
DELETE_ROUTE = "DELETE FROM route_rules WHERE name = ?"

SELECT_VERSION = "SELECT version FROM config_version WHERE id = 1"
BUMP_VERSION = "UPDATE config_version SET version = version + 1 WHERE id = 1"

# Runs in the transaction that inserts the messages it counts, on the committing node's shard
# (gateway.domain.accounts.usage_shard) of account_usage_shards (migration 0018). The readers
# add up both tables: account_usage holds what nodes counted before 0018, and what nodes of an
# older version still count there during a rolling upgrade.
UPSERT_USAGE = """
INSERT INTO account_usage_shards (account_id, day, shard, segments, spend)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (account_id, day, shard) DO UPDATE
SET segments = account_usage_shards.segments + excluded.segments,
    spend = account_usage_shards.spend + excluded.spend
"""
_ALL_USAGE = """(
    SELECT account_id, day, segments, spend FROM account_usage
    UNION ALL
    SELECT account_id, day, segments, spend FROM account_usage_shards
)"""
# (day, month start): per account, segments that day and spend since the month started.
SELECT_USAGE = f"""
SELECT account_id, SUM(CASE WHEN day = ? THEN segments ELSE 0 END), SUM(spend)
FROM {_ALL_USAGE} u WHERE day >= ? GROUP BY account_id
"""
# The same for the accounts a quota or cap applies to: what every node reads every few seconds.
SELECT_LIMITED_USAGE = f"""
SELECT u.account_id, SUM(CASE WHEN u.day = ? THEN u.segments ELSE 0 END), SUM(u.spend)
FROM {_ALL_USAGE} u JOIN accounts a ON a.id = u.account_id
WHERE u.day >= ? AND (a.daily_quota IS NOT NULL OR a.spend_cap IS NOT NULL)
GROUP BY u.account_id
"""


def account_settings(r: Row) -> AccountSettings:
    return AccountSettings(
        id=r[0],
        name=r[1],
        active=bool(r[2]),
        rate_limit=float(r[3]),
        daily_quota=r[4],
        spend_cap=r[5],
        allowed_senders=tuple(s for s in str(r[6]).split(",") if s),
        price=r[7],
        created_at=r[8],
        updated_at=r[9],
    )


def account_row(a: AccountSettings) -> tuple[Any, ...]:
    """INSERT_ACCOUNT's values; `active` as a bool (SQLite stores it as 0/1)."""
    return (
        a.id,
        a.name,
        a.active,
        a.rate_limit,
        a.daily_quota,
        a.spend_cap,
        ",".join(a.allowed_senders),
        a.price,
        a.created_at,
        a.updated_at,
    )


def account_update_row(a: AccountSettings) -> tuple[Any, ...]:
    """UPDATE_ACCOUNT's values: the columns from name to price, then updated_at and the id."""
    return (*account_row(a)[1:8], a.updated_at, a.id)


def key_info(r: Row) -> ApiKeyInfo:
    return ApiKeyInfo(prefix=r[0], created_at=r[1], revoked_at=r[2])


def inbound_number(r: Row) -> InboundNumber:
    return InboundNumber(number=r[0], account_id=r[1], created_at=r[2])


def stored_route(r: Row) -> StoredRoute:
    return StoredRoute(name=r[0], position=r[1], rule=r[2], updated_at=r[3])


def usage_rows(
    messages: Sequence[NewMessage], shard: int
) -> list[tuple[str, str, int, int, float]]:
    """One UPSERT_USAGE row per account and day of a committed group: the segments each
    message adds (a later SMPP part adds its own) and their price, on `shard`."""
    totals: dict[tuple[str, str], list[float]] = {}
    for m in messages:
        segments = m.billed_segments or len(m.parts)
        entry = totals.setdefault((m.account_id, usage_day(m.created_at)), [0, 0.0])
        entry[0] += segments
        entry[1] += segments * (m.price or 0.0)
    # Sorted: concurrent commits on PostgreSQL lock the counter rows in one order, never a cycle.
    return [(a, d, shard, int(s), round(p, 9)) for (a, d), (s, p) in sorted(totals.items())]
