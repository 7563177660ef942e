"""Filters and keyset positions for listing an account's messages and inbound messages."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.domain.status import Status


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page ended: the (time, id) of its last row. The next page starts strictly after
    it in the listing order (newest first), so rows inserted meanwhile never shift a page."""

    at: float
    id: str


@dataclass(frozen=True, slots=True)
class MessageFilter:
    statuses: tuple[Status, ...] = ()
    destination: str | None = None
    created_after: float | None = None
    created_before: float | None = None
    batch_id: str | None = None
