"""SQL of batches and idempotency records, shared by both dialects (`?` placeholders)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from gateway.domain import NewMessage
from gateway.domain.batches import (
    BatchSummary,
    IdempotencyRecord,
    NewBatch,
    StoredTemplate,
    SubmissionUnit,
)
from gateway.store import sql
from gateway.store.sql import Row

INSERT_BATCH = """
INSERT INTO batches (id, account_id, created_at, recipients, accepted, rejected, message_type,
    source, client_ref)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
BATCH_COLUMNS = """id, account_id, created_at, recipients, accepted, rejected, message_type,
    source, client_ref"""
SELECT_BATCH = f"SELECT {BATCH_COLUMNS} FROM batches WHERE id = ? AND account_id = ?"
# What the batch's messages say now; `count(price)` tells "no price set" from a total of 0.
BATCH_STATUS_TOTALS = """
SELECT status, count(*), sum(segments), sum(price * segments), count(price)
FROM messages WHERE batch_id = ? GROUP BY status
"""

# Takes the key unless a live record holds it; an expired one (not yet swept) is replaced.
# RETURNING a row means this request owns the key and its messages are to be written.
CLAIM_KEY_CONFLICT = """
ON CONFLICT (account_id, key) DO UPDATE SET fingerprint = excluded.fingerprint,
    status_code = excluded.status_code, body = excluded.body,
    created_at = excluded.created_at, expires_at = excluded.expires_at
WHERE idempotency_keys.expires_at <= excluded.created_at
RETURNING account_id, key
"""
CLAIM_KEY = f"""
INSERT INTO idempotency_keys (account_id, key, fingerprint, status_code, body, created_at,
    expires_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
{CLAIM_KEY_CONFLICT}
"""
SELECT_KEY = """
SELECT account_id, key, fingerprint, status_code, body, created_at, expires_at
FROM idempotency_keys WHERE account_id = ? AND key = ? AND expires_at > ?
"""
EXPIRE_KEYS = "DELETE FROM idempotency_keys WHERE expires_at <= ?"

# Replacing a template keeps when it was first created.
PUT_TEMPLATE = """
INSERT INTO message_templates (account_id, name, text, created_at, updated_at)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (account_id, name) DO UPDATE SET text = excluded.text,
    updated_at = excluded.updated_at
RETURNING account_id, name, text, created_at, updated_at
"""
TEMPLATE_COLUMNS = "account_id, name, text, created_at, updated_at"
SELECT_TEMPLATE = (
    f"SELECT {TEMPLATE_COLUMNS} FROM message_templates WHERE account_id = ? AND name = ?"
)
# Keyset pagination by name: `after` is the last name of the previous page ('' for the first).
LIST_TEMPLATES = f"""
SELECT {TEMPLATE_COLUMNS} FROM message_templates WHERE account_id = ? AND name > ?
ORDER BY name LIMIT ?
"""
DELETE_TEMPLATE = "DELETE FROM message_templates WHERE account_id = ? AND name = ?"


def batch_row(b: NewBatch) -> tuple[object, ...]:
    return (
        b.id,
        b.account_id,
        b.created_at,
        b.recipients,
        b.accepted,
        b.rejected,
        b.message_type,
        b.source,
        b.client_ref,
    )


def batch(r: Row) -> NewBatch:
    return NewBatch(
        id=r[0],
        account_id=r[1],
        created_at=r[2],
        recipients=r[3],
        accepted=r[4],
        rejected=r[5],
        message_type=r[6],
        source=r[7],
        client_ref=r[8],
    )


def batch_summary(b: NewBatch, totals: Iterable[Row]) -> BatchSummary:
    statuses: dict[str, int] = {}
    segments, price, priced = 0, 0.0, 0
    for r in totals:
        statuses[r[0]] = r[1]
        segments += r[2] or 0
        price += r[3] or 0.0
        priced += r[4]
    return BatchSummary(b, statuses, segments, round(price, 6) if priced else None)


def key_row(k: IdempotencyRecord) -> tuple[object, ...]:
    return (k.account_id, k.key, k.fingerprint, k.status_code, k.body, k.created_at, k.expires_at)


def idempotency_record(r: Row) -> IdempotencyRecord:
    return IdempotencyRecord(
        account_id=r[0],
        key=r[1],
        fingerprint=r[2],
        status_code=r[3],
        body=bytes(r[4]),
        created_at=r[5],
        expires_at=r[6],
    )


def first_claims(units: Sequence[SubmissionUnit]) -> list[IdempotencyRecord | None]:
    """Each unit's key record, or None for a unit without a key or whose key an earlier unit
    of the same commit already carries (that later unit is a duplicate whatever the store
    says; the API refuses such concurrent requests before they get here anyway)."""
    seen: set[tuple[str, str]] = set()
    out: list[IdempotencyRecord | None] = []
    for unit in units:
        record = unit.idempotency
        if record is not None:
            if (record.account_id, record.key) in seen:
                record = None
            else:
                seen.add((record.account_id, record.key))
        out.append(record)
    return out


def committed_units(
    units: Sequence[SubmissionUnit],
    claims: Sequence[IdempotencyRecord | None],
    claimed: set[tuple[str, str]],
) -> list[bool]:
    """Whether each unit is written: it has no key, or the store gave its key to it."""
    return [
        unit.idempotency is None or (claim is not None and (claim.account_id, claim.key) in claimed)
        for unit, claim in zip(units, claims, strict=True)
    ]


def message_rows(
    messages: Sequence[NewMessage], owner: str | None
) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]], list[tuple[str, str]]]:
    """(message rows, part rows, continuation bodies), as `insert_messages` writes them."""
    return (
        [sql.message_row(m) for m in messages if not m.continuation],
        [row for m in messages for row in sql.part_rows(m, owner)],
        sql.continuation_bodies(messages),
    )


def stored_template(r: Row) -> StoredTemplate:
    return StoredTemplate(account_id=r[0], name=r[1], text=r[2], created_at=r[3], updated_at=r[4])
