"""SQL and pure planning for webhooks, shared by both stores (`?` placeholders).

Events are planned inside the transaction that changes a status or stores an inbound message,
from rows that transaction already read, so they commit (or roll back) with it. Only accounts
with a webhook subscribed to the event type get a row: one indexed lookup per batch is all that
accounts without a webhook pay.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from gateway.domain import InboundRecord
from gateway.domain.ids import new_id
from gateway.domain.webhooks import (
    INBOUND_EVENT,
    Webhook,
    WebhookEvent,
    WebhookFailure,
    WebhookStream,
    status_event_type,
)
from gateway.store.lifecycle import MessageChange, MessageRow
from gateway.store.sql import Row

# (type, data) of one event still without its sequence number.
PlannedEvent = tuple[str, dict[str, Any]]

WEBHOOK_COLUMNS = "account_id, url, events, secret, created_at, updated_at"

# The sequence continues from the account's last event, so deleting and re-creating a webhook
# never makes a sequence number mean two events.
UPSERT_WEBHOOK = f"""
INSERT INTO webhooks (account_id, url, events, secret, last_sequence, created_at, updated_at)
VALUES (?, ?, ?, ?, (SELECT COALESCE(MAX(sequence), 0) FROM webhook_events WHERE account_id = ?),
    ?, ?)
ON CONFLICT (account_id) DO UPDATE SET url = excluded.url, events = excluded.events,
    updated_at = excluded.updated_at, retry_at = NULL, failures = 0,
    secret = CASE WHEN ? THEN excluded.secret ELSE webhooks.secret END
RETURNING {WEBHOOK_COLUMNS}
"""
SELECT_WEBHOOK = f"SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE account_id = ?"
DELETE_WEBHOOK = "DELETE FROM webhooks WHERE account_id = ?"
# Nobody will receive them any more: they stay, failed, for replay after a new PUT.
ABANDON_PENDING = """
UPDATE webhook_events SET state = 'failed', last_error = 'webhook deleted', finished_at = ?
WHERE account_id = ? AND state = 'pending'
"""

SELECT_SUBSCRIPTIONS = "SELECT account_id, events FROM webhooks WHERE account_id IN ({})"
NEXT_SEQUENCES = """
UPDATE webhooks SET last_sequence = last_sequence + ? WHERE account_id = ?
RETURNING last_sequence
"""
INSERT_EVENT = """
INSERT INTO webhook_events (account_id, sequence, event_id, type, body, created_at)
VALUES (?, ?, ?, ?, ?, ?)
"""

# Streams with pending events, not leased (or their lease ran out), not backing off; the one
# served longest ago first (a release stamps `lease_until`), so busy accounts take turns.
DUE_STREAMS = """
SELECT w.account_id FROM webhooks w
WHERE (w.owner IS NULL OR w.lease_until < ?) AND (w.retry_at IS NULL OR w.retry_at <= ?)
  AND EXISTS (SELECT 1 FROM webhook_events e
              WHERE e.account_id = w.account_id AND e.state = 'pending')
ORDER BY COALESCE(w.lease_until, 0), w.account_id
LIMIT ?
"""
LEASE_STREAM = """
UPDATE webhooks SET owner = ?, lease_until = ? WHERE account_id = ?
RETURNING account_id, url, secret, failures
"""
EVENT_COLUMNS = "id, account_id, sequence, event_id, type, body, created_at, attempts"
PENDING_EVENTS = f"""
SELECT {EVENT_COLUMNS} FROM webhook_events
WHERE account_id = ? AND state = 'pending' ORDER BY sequence LIMIT ?
"""
MARK_DELIVERED = """
UPDATE webhook_events SET state = 'delivered', attempts = attempts + 1, last_error = NULL,
    finished_at = ?
WHERE id = ? AND state = 'pending'
"""
MARK_ATTEMPT_FAILED = """
UPDATE webhook_events SET attempts = attempts + 1, last_error = ? WHERE id = ?
"""
# Giving up on the head also gives up on every pending event at least as old: each of them has
# waited behind a failing receiver for the whole retry period.
GIVE_UP = """
UPDATE webhook_events SET state = 'failed', finished_at = ?
WHERE account_id = ? AND state = 'pending' AND (id = ? OR created_at < ?)
"""
RELEASE_STREAM = """
UPDATE webhooks SET owner = NULL, lease_until = ?, retry_at = ?, failures = ?
WHERE account_id = ? AND owner = ?
"""
# Lock order, everywhere: the account's `webhooks` row first, then its events. The status writer
# numbers events under the row's lock; finishing a stream, replaying and deleting take the row
# before touching events, so no two of them wait on each other in opposite order (deadlock).
RELEASE_OWNED_STREAMS = "UPDATE webhooks SET owner = NULL WHERE owner = ?"

REPLAY = """
UPDATE webhook_events SET state = 'pending', finished_at = NULL
WHERE account_id = ? AND state <> 'pending' AND sequence >= ? AND created_at >= ?
"""
RESET_BACKOFF = "UPDATE webhooks SET retry_at = NULL, failures = 0 WHERE account_id = ?"
COUNT_PENDING = "SELECT count(*) FROM webhook_events WHERE state = 'pending'"
PURGE_FINISHED = """
DELETE FROM webhook_events WHERE id IN (
    SELECT id FROM webhook_events WHERE state <> 'pending' AND finished_at < ? LIMIT ?)
"""


def next_try(stream: WebhookStream, failure: WebhookFailure | None) -> tuple[float | None, int]:
    """(retry_at, consecutive failures) of the stream once this batch is recorded."""
    if failure is None:
        return None, 0
    return failure.retry_at, stream.failures + 1


def webhook(r: Row) -> Webhook:
    return Webhook(
        account_id=r[0],
        url=r[1],
        events=tuple(e for e in str(r[2]).split(",") if e),
        secret=r[3],
        created_at=r[4],
        updated_at=r[5],
    )


def stream(r: Row) -> WebhookStream:
    return WebhookStream(account_id=r[0], url=r[1], secret=r[2], failures=r[3])


def event(r: Row) -> WebhookEvent:
    return WebhookEvent(
        id=r[0],
        account_id=r[1],
        sequence=r[2],
        event_id=r[3],
        type=r[4],
        body=r[5],
        created_at=r[6],
        attempts=r[7],
    )


def subscriptions(rows: Iterable[Row]) -> dict[str, frozenset[str]]:
    return {r[0]: frozenset(str(r[1]).split(",")) for r in rows}


def status_events(
    changes: Sequence[MessageChange],
    messages: Mapping[str, MessageRow],
    subscribed: Mapping[str, frozenset[str]],
) -> dict[str, list[PlannedEvent]]:
    """The events these committed message transitions owe, per account, in commit order."""
    owed: dict[str, list[PlannedEvent]] = {}
    for planned in changes:
        change = planned.change
        kind = status_event_type(change.status)
        if kind not in subscribed.get(change.account_id, ()):
            continue
        message = messages[change.message_id]
        data = {
            "message_id": change.message_id,
            "status": change.status.value,
            "previous_status": change.previous.value,
            "error_code": planned.error_code,
            "error_detail": planned.error_detail,
            "to": message.destination,
            "from": message.source,
            "created_at": message.created_at,
            "at": change.at,
        }
        owed.setdefault(change.account_id, []).append((kind, data))
    return owed


def inbound_event(record: InboundRecord) -> PlannedEvent:
    return (
        INBOUND_EVENT,
        {
            "inbound_id": record.id,
            "from": record.source,
            "to": record.destination,
            "text": record.text,
            "encoding": record.encoding,
            "parts": record.parts,
            "incomplete": record.incomplete,
            "received_at": record.received_at,
        },
    )


def event_rows(
    account_id: str, last_sequence: int, events: Sequence[PlannedEvent], now: float
) -> list[tuple[object, ...]]:
    """`INSERT_EVENT` rows numbered after `last_sequence` (the value before this batch)."""
    rows: list[tuple[object, ...]] = []
    for sequence, (kind, data) in enumerate(events, start=last_sequence + 1):
        event_id = new_id(now)
        body = json.dumps(
            {"id": event_id, "type": kind, "sequence": sequence, "created_at": now, "data": data},
            separators=(",", ":"),
            ensure_ascii=False,
        )
        rows.append((account_id, sequence, event_id, kind, body, now))
    return rows
