"""Batches and idempotency records, and the unit intake commits atomically."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.domain.message import NewMessage


@dataclass(frozen=True, slots=True)
class NewBatch:
    """One batch request as committed: its counts are fixed; statuses live on its messages."""

    id: str
    account_id: str
    created_at: float
    recipients: int
    accepted: int
    rejected: int
    message_type: str
    source: str
    client_ref: str | None = None


@dataclass(frozen=True, slots=True)
class BatchSummary:
    """A batch with what its messages say now: message counts per status, their totals."""

    batch: NewBatch
    statuses: dict[str, int]
    segments: int
    price: float | None  # None when no message of the batch has a price


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """The first accepted response to a request with an Idempotency-Key (per account)."""

    account_id: str
    key: str
    fingerprint: str  # SHA-256 of the request (path and canonical body)
    status_code: int
    body: bytes
    created_at: float
    expires_at: float


@dataclass(frozen=True, slots=True)
class SubmissionUnit:
    """Messages that commit together with their batch row and idempotency record, in one
    transaction: a crash leaves all of them or none, never a sent message without its key."""

    messages: tuple[NewMessage, ...]
    batch: NewBatch | None = None
    idempotency: IdempotencyRecord | None = None


@dataclass(frozen=True, slots=True)
class StoredTemplate:
    """A template an account keeps under a name, for batches to use by that name."""

    account_id: str
    name: str
    text: str
    created_at: float
    updated_at: float
