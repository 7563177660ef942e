"""Accounts as the admin API manages them: limits, sender rules, keys, numbers. No I/O."""

from __future__ import annotations

import datetime
import functools
import zlib
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AccountSettings:
    """An account with everything that limits what it may send. 0 or None: no limit."""

    id: str
    name: str
    active: bool = True
    rate_limit: float = 0.0  # segments per second, over REST and SMPP together
    daily_quota: int | None = None  # segments per UTC day
    spend_cap: float | None = None  # price x segments per UTC calendar month
    allowed_senders: tuple[str, ...] = ()  # exact, or a prefix ending in `*`; empty: any
    price: float | None = None  # per segment; replaces the route's price when set
    created_at: float = 0.0
    updated_at: float | None = None


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    """What may be shown about a key after its creation: never the key itself."""

    prefix: str
    created_at: float
    revoked_at: float | None = None


@dataclass(frozen=True, slots=True)
class InboundNumber:
    number: str
    account_id: str
    created_at: float


@dataclass(frozen=True, slots=True)
class StoredRoute:
    """A routing rule made through the admin API; `rule` is a `RouteRule` as JSON."""

    name: str
    position: int
    rule: str
    updated_at: float


@dataclass(frozen=True, slots=True)
class Usage:
    """What an account has sent: segments today and spend this month (UTC)."""

    day_segments: int = 0
    month_spend: float = 0.0


def usage_day(epoch: float) -> str:
    """The UTC day a usage counter row belongs to, `YYYY-MM-DD` (sorts as a date)."""
    return _day_of(int(epoch // 86400))


USAGE_SHARDS = 64


def usage_shard(node_id: str) -> int:
    """The usage counter row a node adds to, one of `USAGE_SHARDS` per account and day.

    Every intake commit updates its account's counter row and holds that row's lock until it
    commits. With one row per account and day, the commits of all nodes for one account queue
    behind each other; with a row per node (two nodes share one only when their ids hash
    alike) they do not. Readers sum the rows. Stable for a node id, so restarts add to the
    same row."""
    return zlib.crc32(node_id.encode()) % USAGE_SHARDS


@functools.lru_cache(maxsize=64)
def _day_of(days: int) -> str:
    # Per message on the intake path: the date is formatted once per day, not per call.
    return datetime.datetime.fromtimestamp(days * 86400, datetime.UTC).strftime("%Y-%m-%d")


def month_start(day: str) -> str:
    """The first day of the month of a `usage_day`."""
    return day[:8] + "01"


def sender_allowed(patterns: tuple[str, ...], sender: str) -> bool:
    """Whether an account's allowed-sender list admits `sender` (case-insensitive; a trailing
    `*` matches a prefix). An empty list admits every sender."""
    if not patterns:
        return True
    folded = sender.casefold()
    for pattern in patterns:
        p = pattern.casefold()
        if folded.startswith(p[:-1]) if p.endswith("*") else folded == p:
            return True
    return False


def sender_registered(patterns: tuple[str, ...], sender: str) -> bool:
    """Whether `sender` is listed exactly (not through a pattern): what countries that require
    pre-registered alphanumeric senders ask for."""
    folded = sender.casefold()
    return any(not p.endswith("*") and p.casefold() == folded for p in patterns)


@dataclass(frozen=True, slots=True)
class StoredConnector:
    """A connector row of the store (`gateway/connector_set.py`): for `source == "admin"` its
    definition (`options` is the connector's options as JSON, secrets included); for
    `source == "config"` only whether the API stopped it."""

    name: str
    source: str  # "admin" | "config"
    kind: str
    options: str
    rate: float
    enabled: bool
    created_at: float
    updated_at: float
