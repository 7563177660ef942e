"""SQL text shared by both dialects, written with `?` placeholders.

PostgreSQL's adapter rewrites `?` to `$1, $2, ...` once at import (`numbered`); the statements
are otherwise portable, so one reading of the SQL covers both stores.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any, Protocol

from gateway.domain import (
    InboundPart,
    InboundRecord,
    MessageRecord,
    MessageType,
    NewMessage,
    OutboxItem,
    PartRecord,
    PartUpdate,
    SmppCredential,
    Status,
)
from gateway.domain.message import PartView
from gateway.domain.status import TERMINAL_RANK

INSERT_MESSAGE = """
INSERT INTO messages (id, account_id, client_ref, source, destination, body, encoding, segments,
    message_type, registered_delivery, status, status_rank, created_at, updated_at, send_at,
    expires_at, origin_system_id, esme_receipt, parts, price, batch_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

INSERT_PART = """
INSERT INTO parts (message_id, seq, total, encoding, data_coding, udh, payload, connector,
    priority, status, status_rank, owner, due_at, updated_at, esme_receipt)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (message_id, seq) DO NOTHING
"""

# SQLite plans without statistics (nothing runs ANALYZE) and, left to itself, reads
# `owner IS NULL` through parts_pending_owner: every unowned queued part, joined and sorted, to
# return the first `limit`, which took seconds per claim with a million queued. INDEXED BY keeps
# it walking parts_claimable (the queued parts no node holds) from the head of the queue,
# sorting only ties of (priority, due_at), and stopping at the limit; parts_pending would first
# walk every part other nodes hold. (SQLite only: PostgreSQL claims with its own query and has
# statistics.)
SELECT_DUE_PARTS = """
SELECT p.message_id, p.seq, p.total, m.account_id, m.source, m.destination, p.encoding,
    p.data_coding, p.udh, p.payload, p.connector, p.priority, m.registered_delivery, p.attempts,
    m.expires_at
FROM parts p INDEXED BY parts_claimable JOIN messages m ON m.id = p.message_id
WHERE p.status = 'queued' AND p.owner IS NULL AND p.due_at <= ?
ORDER BY p.priority, p.due_at, p.message_id, p.seq
LIMIT ?
"""
# The same for one priority lane (the parts_claimable index serves it as a range).
SELECT_DUE_PARTS_OF_PRIORITY = SELECT_DUE_PARTS.replace(
    "p.due_at <= ?", "p.due_at <= ? AND p.priority = ?"
)

SET_OWNER = "UPDATE parts SET owner = ? WHERE message_id = ? AND seq = ?"

# Queued parts of messages whose validity ended (the messages_expiring index finds them without
# reading the queue); the sweep takes them like a claim, so no node sends one meanwhile.
SELECT_EXPIRED_PARTS = """
SELECT p.message_id, p.seq
FROM messages m JOIN parts p ON p.message_id = m.id
WHERE m.expires_at IS NOT NULL AND m.expires_at <= ?
  AND m.status IN ('accepted', 'scheduled', 'queued')
  AND p.status = 'queued' AND p.owner IS NULL
LIMIT ?
"""
# The same on SQLite, held to that index: without statistics SQLite starts from the parts
# instead (every unowned queued part, seconds per sweep with a million queued).
SELECT_EXPIRED_PARTS_SQLITE = SELECT_EXPIRED_PARTS.replace(
    "FROM messages m JOIN", "FROM messages m INDEXED BY messages_expiring JOIN"
)
RELEASE_OWNED = "UPDATE parts SET owner = NULL WHERE owner = ? AND status = 'queued'"
RELEASE_STALE = """
UPDATE parts SET owner = NULL
WHERE status = 'queued' AND owner IS NOT NULL
  AND owner NOT IN (SELECT node_id FROM nodes WHERE heartbeat_at >= ?)
"""

# A transition is applied only if it moves the part forward (`status_rank < guard`): this one
# WHERE clause is what makes a late or repeated report harmless.
UPDATE_PART = """
UPDATE parts SET status = ?, status_rank = ?,
    upstream_id = COALESCE(?, upstream_id), connector = COALESCE(?, connector),
    error_code = COALESCE(?, error_code), error_detail = COALESCE(?, error_detail),
    attempts = attempts + ?,
    submitted_at = COALESCE(submitted_at, ?), done_at = COALESCE(done_at, ?), updated_at = ?,
    raw_state = COALESCE(?, raw_state)
WHERE message_id = ? AND seq = ? AND status_rank < ?
"""

# UPDATE_PART for many rows in one statement (SQLite, multirow.updates). The columns of `u`
# are UPDATE_PART's parameters, in order, so both take `update_part_row`. Not for PostgreSQL:
# without statistics it may plan the join to a VALUES list as a hash of the whole table, for
# each statement (measured: its CPU per message rose by a third).
UPDATE_PARTS_FROM_VALUES = """
WITH u(status, status_rank, upstream_id, connector, error_code, error_detail, attempts,
    submitted_at, done_at, updated_at, raw_state, message_id, seq, rank_below)
    AS (VALUES {values})
UPDATE parts SET status = u.status, status_rank = u.status_rank,
    upstream_id = COALESCE(u.upstream_id, parts.upstream_id),
    connector = COALESCE(u.connector, parts.connector),
    error_code = COALESCE(u.error_code, parts.error_code),
    error_detail = COALESCE(u.error_detail, parts.error_detail),
    attempts = parts.attempts + u.attempts,
    submitted_at = COALESCE(parts.submitted_at, u.submitted_at),
    done_at = COALESCE(parts.done_at, u.done_at), updated_at = u.updated_at,
    raw_state = COALESCE(u.raw_state, parts.raw_state)
FROM u WHERE parts.message_id = u.message_id AND parts.seq = u.seq
    AND parts.status_rank < u.rank_below
"""

# A temporary failure: back to the shared queue, due again later, unowned so any node may send.
# A throttled part or one held while every connector of its route is out of rotation goes back
# without counting an attempt; a failover moves it to the route's next connector.
RETRY_PART = """
UPDATE parts SET owner = NULL, due_at = ?, attempts = attempts + ?,
    connector = COALESCE(?, connector), error_code = ?, error_detail = ?, updated_at = ?
WHERE message_id = ? AND seq = ? AND status = 'queued'
"""

UPDATE_MESSAGE = """
UPDATE messages SET status = ?, status_rank = ?,
    submitted_at = COALESCE(submitted_at, ?), done_at = COALESCE(done_at, ?),
    error_code = COALESCE(?, error_code), error_detail = COALESCE(?, error_detail),
    updated_at = ?
WHERE id = ? AND status_rank < ?
"""

# UPDATE_MESSAGE for many rows in one statement, as UPDATE_PARTS_FROM_VALUES is for parts.
UPDATE_MESSAGES_FROM_VALUES = """
WITH u(status, status_rank, submitted_at, done_at, error_code, error_detail, updated_at, id,
    rank_below) AS (VALUES {values})
UPDATE messages SET status = u.status, status_rank = u.status_rank,
    submitted_at = COALESCE(messages.submitted_at, u.submitted_at),
    done_at = COALESCE(messages.done_at, u.done_at),
    error_code = COALESCE(u.error_code, messages.error_code),
    error_detail = COALESCE(u.error_detail, messages.error_detail),
    updated_at = u.updated_at
FROM u WHERE messages.id = u.id AND messages.status_rank < u.rank_below
"""

SET_BODY = "UPDATE messages SET body = ? WHERE id = ?"


def continuation_bodies(messages: Sequence[NewMessage]) -> list[tuple[str, str]]:
    """SET_BODY rows for the last parts that completed a message's text, in message id order:
    the order the status write locks messages in, so the two never wait on each other in a
    cycle."""
    return sorted(
        ((m.body, m.id) for m in messages if m.continuation and m.body), key=itemgetter(1)
    )


# What the status writer reads back after applying part updates, to re-aggregate messages and
# to owe receipts to ESMEs.
SELECT_MESSAGES_FOR_UPDATE = """
SELECT id, account_id, status, COALESCE(parts, segments), origin_system_id, source,
    destination, body, esme_receipt, created_at
FROM messages WHERE id IN ({})
"""
SELECT_PARTS_FOR_UPDATE = """
SELECT message_id, seq, status, esme_receipt, error_code, submitted_at, done_at
FROM parts WHERE message_id IN ({})
"""

INSERT_OUTBOX_RECEIPT = """
INSERT INTO smpp_outbox (system_id, kind, message_id, seq, receipted_id, status, error_code,
    source, destination, text, submitted_at, done_at, created_at, expires_at)
VALUES (?, 'receipt', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT DO NOTHING
"""


SELECT_MESSAGE = """
SELECT id, account_id, source, destination, status, encoding, segments, message_type,
    client_ref, created_at, updated_at, submitted_at, done_at, error_code, error_detail,
    send_at, expires_at, price, batch_id
FROM messages WHERE id = ? AND account_id = ?
"""

SELECT_PART_VIEWS = """
SELECT seq, status, upstream_id, connector, attempts, error_code, submitted_at, done_at,
    raw_state
FROM parts WHERE message_id = ? ORDER BY seq
"""

UPSERT_HEARTBEAT = """
INSERT INTO nodes (node_id, heartbeat_at) VALUES (?, ?)
ON CONFLICT (node_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at
"""


class Row(Protocol):
    """A result row by position: a tuple from sqlite3, an asyncpg.Record."""

    def __getitem__(self, index: int, /) -> Any: ...


# replace_sm: only a one-part message that no node holds yet can change, so nothing that is
# being sent, or sits in a node's memory, is ever altered under it.
REPLACE_PENDING_PART = """
UPDATE parts SET udh = ?, payload = ?, due_at = COALESCE(?, due_at), updated_at = ?
WHERE message_id = ? AND seq = 0 AND total = 1 AND status = 'queued' AND owner IS NULL
  AND message_id IN (SELECT id FROM messages WHERE id = ? AND account_id = ?)
"""
REPLACE_PENDING_MESSAGE = """
UPDATE messages SET body = ?, send_at = COALESCE(?, send_at),
    expires_at = COALESCE(?, expires_at), updated_at = ?
WHERE id = ?
"""

INSERT_NUMBER = """
INSERT INTO numbers (number, account_id, created_at) VALUES (?, ?, ?)
ON CONFLICT (number) DO UPDATE SET account_id = excluded.account_id
"""
ACCOUNT_FOR_NUMBER = "SELECT account_id FROM numbers WHERE number = ?"
FIRST_SYSTEM_ID = """
SELECT system_id FROM smpp_credentials WHERE account_id = ? ORDER BY created_at, system_id LIMIT 1
"""
INSERT_INBOUND_PART = """
INSERT INTO inbound_parts (source, destination, reference, total, seq, encoding, data_coding,
    body, national_locking, national_single, connector, received_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT DO NOTHING
"""
INBOUND_PART_COLUMNS = """source, destination, encoding, data_coding, body, connector, received_at,
    reference, total, seq, national_locking, national_single"""
SELECT_INBOUND_PARTS = f"""
SELECT {INBOUND_PART_COLUMNS} FROM inbound_parts
WHERE source = ? AND destination = ? AND reference = ? AND total = ? ORDER BY seq
"""
DELETE_INBOUND_PARTS = """
DELETE FROM inbound_parts WHERE source = ? AND destination = ? AND reference = ? AND total = ?
"""
STALE_INBOUND_KEYS = """
SELECT source, destination, reference, total FROM inbound_parts
GROUP BY source, destination, reference, total HAVING MAX(received_at) < ?
"""
# A reference comes round again only after 255 later long messages from the same handset, so a
# part of a message assembled in the last 10 minutes is a duplicate.
ASSEMBLED_WINDOW = 600.0
RECENTLY_ASSEMBLED = """
SELECT 1 FROM inbound_assembled
WHERE source = ? AND destination = ? AND reference = ? AND total = ? AND assembled_at > ?
"""
MARK_ASSEMBLED = """
INSERT INTO inbound_assembled (source, destination, reference, total, assembled_at)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (source, destination, reference, total) DO UPDATE SET
    assembled_at = excluded.assembled_at
"""
FORGET_ASSEMBLED = "DELETE FROM inbound_assembled WHERE assembled_at < ?"

INSERT_INBOUND = """
INSERT INTO inbound (id, account_id, source, destination, text, encoding, parts, incomplete,
    connector, received_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
INSERT_OUTBOX_MO = """
INSERT INTO smpp_outbox (system_id, kind, message_id, seq, source, destination, text, encoding,
    created_at, expires_at)
VALUES (?, 'mo', ?, 0, ?, ?, ?, ?, ?, ?)
"""
INBOUND_COLUMNS = """id, account_id, source, destination, text, encoding, parts, incomplete,
    connector, received_at"""


def inbound_part(r: Row) -> InboundPart:
    return InboundPart(
        source=r[0],
        destination=r[1],
        encoding=r[2],
        data_coding=r[3],
        body=bytes(r[4]),
        connector=r[5],
        received_at=r[6],
        concat=(r[7], r[8], r[9]) if r[8] > 1 else None,
        national_locking=r[10],
        national_single=r[11],
    )


def inbound_part_row(p: InboundPart) -> tuple[object, ...]:
    reference, total, seq = p.concat or (0, 1, 1)
    return (
        p.source,
        p.destination,
        reference,
        total,
        seq,
        p.encoding,
        p.data_coding,
        p.body,
        p.national_locking,
        p.national_single,
        p.connector,
        p.received_at,
    )


def inbound_row(r: InboundRecord) -> tuple[object, ...]:
    return (
        r.id,
        r.account_id,
        r.source,
        r.destination,
        r.text,
        r.encoding,
        r.parts,
        r.incomplete,
        r.connector,
        r.received_at,
    )


def outbox_mo_row(system_id: str, r: InboundRecord, ttl: float) -> tuple[object, ...]:
    return (
        system_id,
        r.id,
        r.source,
        r.destination,
        r.text,
        r.encoding,
        r.received_at,
        r.received_at + ttl,
    )


def inbound_record(r: Row) -> InboundRecord:
    return InboundRecord(
        id=r[0],
        account_id=r[1],
        source=r[2],
        destination=r[3],
        text=r[4],
        encoding=r[5],
        parts=r[6],
        incomplete=bool(r[7]),
        connector=r[8],
        received_at=r[9],
    )


# A later receipt replaces a parked one unless the parked one is already final.
PARK_RECEIPT = """
INSERT INTO parked_receipts (connector, upstream_id, status, raw_state, error_code, received_at)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (connector, upstream_id) DO UPDATE SET status = excluded.status,
    raw_state = excluded.raw_state, error_code = excluded.error_code
WHERE parked_receipts.status NOT IN
    ('delivered', 'undelivered', 'expired', 'rejected', 'failed', 'cancelled')
"""
MATCH_PARKED = """
SELECT r.connector, r.upstream_id, r.status, r.raw_state, r.error_code, p.message_id, p.seq
FROM parked_receipts r JOIN parts p ON p.connector = r.connector AND p.upstream_id = r.upstream_id
LIMIT ?
"""
UNPARK = "DELETE FROM parked_receipts WHERE connector = ? AND upstream_id = ?"
EXPIRE_PARKED = "DELETE FROM parked_receipts WHERE received_at < ?"
# Past the bound, the oldest go first: a carrier sending receipts for ids we never stored (or a
# flood) cannot grow the table without limit between two expiry sweeps.
TRIM_PARKED = """
DELETE FROM parked_receipts WHERE received_at < (
    SELECT received_at FROM parked_receipts ORDER BY received_at DESC LIMIT 1 OFFSET ?
)
"""

# cancel_sm: take the message's unowned queued parts, so no node claims them meanwhile.
TAKE_FOR_CANCEL = """
UPDATE parts SET owner = ? WHERE message_id = ? AND status = 'queued' AND owner IS NULL
RETURNING seq
"""
NOT_CANCELLABLE = """
SELECT count(*) FROM parts WHERE message_id = ? AND (status <> 'queued' OR owner <> ?)
"""
UNTAKE = "UPDATE parts SET owner = NULL WHERE message_id = ? AND seq = ? AND owner = ?"

INSERT_CREDENTIAL = """
INSERT INTO smpp_credentials (system_id, account_id, password_hash, allowed_networks, max_binds,
    throughput, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (system_id) DO UPDATE SET account_id = excluded.account_id,
    password_hash = excluded.password_hash, allowed_networks = excluded.allowed_networks,
    max_binds = excluded.max_binds, throughput = excluded.throughput
"""
SELECT_CREDENTIAL = """
SELECT system_id, account_id, password_hash, allowed_networks, max_binds, throughput
FROM smpp_credentials WHERE system_id = ?
"""
OUTBOX_COLUMNS = """id, system_id, kind, receipted_id, status, error_code, source, destination,
    text, submitted_at, done_at, attempts, encoding"""
# A receipt leased at once to the node with a receiver for it (`OutboxTake`): handed over from
# the status writer's transaction, with no claim to find it again.
INSERT_OUTBOX_RECEIPT_TAKEN = f"""
INSERT INTO smpp_outbox (system_id, kind, message_id, seq, receipted_id, status, error_code,
    source, destination, text, submitted_at, done_at, created_at, expires_at, owner,
    lease_until, attempts)
VALUES (?, 'receipt', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
ON CONFLICT DO NOTHING
RETURNING {OUTBOX_COLUMNS}
"""
EXPIRE_OUTBOX = "DELETE FROM smpp_outbox WHERE expires_at <= ?"
RELEASE_OUTBOX_OWNED = "UPDATE smpp_outbox SET owner = NULL, lease_until = NULL WHERE owner = ?"


def credential(r: Row) -> SmppCredential:
    networks = tuple(n for n in str(r[3]).split(",") if n)
    return SmppCredential(
        system_id=r[0],
        account_id=r[1],
        password_hash=r[2],
        allowed_networks=networks,
        max_binds=r[4],
        throughput=r[5],
    )


def credential_row(c: SmppCredential, now: float) -> tuple[object, ...]:
    return (
        c.system_id,
        c.account_id,
        c.password_hash,
        ",".join(c.allowed_networks),
        c.max_binds,
        c.throughput,
        now,
    )


def outbox_item(r: Row) -> OutboxItem:
    return OutboxItem(
        id=r[0],
        system_id=r[1],
        kind=r[2],
        receipted_id=r[3],
        status=r[4],
        error_code=r[5],
        source=r[6],
        destination=r[7],
        text=r[8],
        submitted_at=r[9],
        done_at=r[10],
        attempts=r[11],
        encoding=r[12],
    )


_PLACEHOLDER = re.compile(r"\?")


def numbered(sql: str) -> str:
    """`?` placeholders to PostgreSQL's `$n`."""
    counter = itertools.count(1)
    return _PLACEHOLDER.sub(lambda _: f"${next(counter)}", sql)


def in_list(count: int) -> str:
    return ", ".join("?" * count)


def message_row(m: NewMessage) -> tuple[object, ...]:
    status = m.status
    return (
        m.id,
        m.account_id,
        m.client_ref,
        m.source,
        m.destination,
        m.body,
        m.encoding,
        m.billed_segments or m.segment_count,
        m.message_type.value,
        m.registered_delivery,
        status.value,
        status.rank,
        m.created_at,
        m.created_at,
        m.send_at,
        m.expires_at,
        m.origin_system_id,
        m.esme_receipt,
        m.segment_count if m.billed_segments else None,
        m.price,
        m.batch_id,
    )


def part_rows(m: NewMessage, owner: str | None) -> list[tuple[object, ...]]:
    due_at = m.send_at if m.send_at is not None and m.send_at > m.created_at else m.created_at
    part_owner = owner if due_at <= m.created_at else None
    total = m.segment_count
    return [
        (
            m.id,
            p.seq,
            total,
            p.encoding,
            p.data_coding,
            p.udh,
            p.payload,
            m.connector,
            m.priority,
            Status.QUEUED.value,
            Status.QUEUED.rank,
            part_owner,
            due_at,
            m.created_at,
            p.esme_receipt,
        )
        for p in m.parts
    ]


def update_part_row(u: PartUpdate) -> tuple[object, ...]:
    # Cancellation is allowed only before submission, so its guard is the rank of `submitted`.
    guard = Status.SUBMITTED.rank if u.status is Status.CANCELLED else u.status.rank
    return (
        u.status.value,
        u.status.rank,
        u.upstream_id,
        u.connector,
        u.error_code,
        u.error_detail,
        1 if u.attempt else 0,
        # A carrier's report (it carries the upstream id) proves the part was sent even when it
        # overtook the commit of the submit response, whose update the guard then drops.
        u.at if u.status is Status.SUBMITTED or u.upstream_id is not None else None,
        u.at if u.status.rank == TERMINAL_RANK else None,
        u.at,
        u.raw_state,
        u.message_id,
        u.seq,
        guard,
    )


def part_update_key(row: Sequence[object]) -> tuple[object, object]:
    """The part an `update_part_row` row updates: (message_id, seq)."""
    return row[11], row[12]


def message_update_key(row: Sequence[object]) -> object:
    """The message a `MessageChange.update_row` row updates: its id."""
    return row[7]


def retry_part_row(u: PartUpdate) -> tuple[object, ...]:
    return (
        u.retry_at,
        int(u.attempt),
        u.connector,
        u.error_code,
        u.error_detail,
        u.at,
        u.message_id,
        u.seq,
    )


def part_record(r: Row) -> PartRecord:
    return PartRecord(
        message_id=r[0],
        seq=r[1],
        total=r[2],
        account_id=r[3],
        source=r[4],
        destination=r[5],
        encoding=r[6],
        data_coding=r[7],
        udh=bytes(r[8]),
        payload=bytes(r[9]),
        connector=r[10],
        priority=r[11],
        registered_delivery=bool(r[12]),
        attempts=r[13],
        expires_at=r[14],
    )


def message_record(r: Row, parts: Iterable[Row]) -> MessageRecord:
    return MessageRecord(
        id=r[0],
        account_id=r[1],
        source=r[2],
        destination=r[3],
        status=Status(r[4]),
        encoding=r[5],
        segments=r[6],
        message_type=MessageType(r[7]),
        client_ref=r[8],
        created_at=r[9],
        updated_at=r[10],
        submitted_at=r[11],
        done_at=r[12],
        error_code=r[13],
        error_detail=r[14],
        send_at=r[15],
        expires_at=r[16],
        price=r[17],
        batch_id=r[18],
        parts=tuple(
            PartView(
                seq=p[0],
                status=Status(p[1]),
                upstream_id=p[2],
                connector=p[3],
                attempts=p[4],
                error_code=p[5],
                submitted_at=p[6],
                done_at=p[7],
                raw_state=p[8],
            )
            for p in parts
        ),
    )
