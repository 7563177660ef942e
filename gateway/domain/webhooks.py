"""Webhooks: what an account subscribes to, the events it is sent, and how they are signed.

An event is JSON with a stable `id` (the same on every retry and replay) and a per-account
`sequence` that only grows, so a receiver can drop duplicates and notice gaps. Each POST carries
`Gateway-Signature: t=<unix seconds>,v1=<hex>`, the HMAC-SHA256 of `"{t}.{body}"` under the
webhook's secret; the timestamp is signed too, so a receiver can refuse old captures.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from gateway.domain.status import Status

SIGNATURE_HEADER = "Gateway-Signature"
INBOUND_EVENT = "inbound.received"
# A message is created `accepted` (or `scheduled`) and its parts `queued`: an event for those
# would only echo the submit response, and the status writer never records them as changes.
STATUS_EVENTS: tuple[str, ...] = tuple(
    f"message.{s.value}"
    for s in Status
    if s not in (Status.ACCEPTED, Status.SCHEDULED, Status.QUEUED)
)
EVENT_TYPES: tuple[str, ...] = (*STATUS_EVENTS, INBOUND_EVENT)


def status_event_type(status: Status) -> str:
    return f"message.{status.value}"


@dataclass(frozen=True, slots=True)
class Webhook:
    account_id: str
    url: str
    events: tuple[str, ...]
    secret: str
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class WebhookStream:
    """An account's pending events, leased by one node which sends them in sequence order."""

    account_id: str
    url: str
    secret: str
    failures: int  # consecutive failed attempts: the exponent of the backoff


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    id: int  # the outbox row
    account_id: str
    sequence: int
    event_id: str
    type: str
    body: str
    created_at: float
    attempts: int


@dataclass(frozen=True, slots=True)
class WebhookFailure:
    """The stream's head event was not acknowledged: retry the stream at `retry_at`, or, when
    `give_up`, mark the event (and any pending event as old) failed and go on."""

    row_id: int
    error: str
    retry_at: float
    give_up: bool


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `Gateway-Signature` header value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, *, now: float, tolerance: float = 300) -> bool:
    """What a receiver does: recompute the HMAC and compare in constant time, refusing
    signatures older than `tolerance` seconds."""
    fields = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))
