"""Accounts as the admin API manages them: limits, sender rules, keys, numbers. No I/O."""

from __future__ import annotations

import datetime
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
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%d")


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
