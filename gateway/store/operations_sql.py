"""What the operator commands read and change in the store (`python -m gateway queues`,
`message`, `retry`, `expire`): the records they return and the SQL both dialects share.

Every scan is paged (a page is `limit` rows, the next starts after the last key), so a command
run against millions of parts holds one page in memory, never the table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gateway.domain import MessageType, PartKey, Status, aggregate_status
from gateway.store.lifecycle import MessageRow, PartRow
from gateway.store.sql import Row


@dataclass(frozen=True, slots=True)
class QueueLane:
    """The queued parts of one connector in one priority lane."""

    connector: str
    priority: int
    queued: int  # every part waiting, due or not
    due: int  # due now: waiting only for a node to send it
    held: int  # in some node's dispatch memory
    oldest_due_at: float | None  # the earliest due time among the due parts

    @property
    def lane(self) -> str:
        return next((t.value for t in MessageType if t.priority == self.priority), "other")


@dataclass(frozen=True, slots=True)
class PartDetail:
    seq: int
    status: Status
    connector: str
    upstream_id: str | None
    attempts: int
    error_code: str | None
    error_detail: str | None
    owner: str | None
    due_at: float
    submitted_at: float | None
    done_at: float | None


@dataclass(frozen=True, slots=True)
class MessageDetail:
    """A message as an operator sees it: not scoped to an account, with its parts' queue
    state (owner, due time) that the public API never shows."""

    id: str
    account_id: str
    account_name: str
    source: str
    destination: str
    status: Status
    message_type: MessageType
    encoding: str
    segments: int
    registered_delivery: bool
    origin_system_id: str | None
    error_code: str | None
    error_detail: str | None
    created_at: float
    updated_at: float
    submitted_at: float | None
    done_at: float | None
    send_at: float | None
    expires_at: float | None
    parts: tuple[PartDetail, ...]


# The parts_pending index (priority, due_at WHERE status = 'queued') covers this scan.
QUEUE_LANES = """
SELECT connector, priority, COUNT(*),
    SUM(CASE WHEN due_at <= ? THEN 1 ELSE 0 END),
    SUM(CASE WHEN owner IS NOT NULL THEN 1 ELSE 0 END),
    MIN(CASE WHEN due_at <= ? THEN due_at END)
FROM parts WHERE status = 'queued'
GROUP BY connector, priority
ORDER BY connector, priority
"""

SELECT_MESSAGE_DETAIL = """
SELECT m.id, m.account_id, a.name, m.source, m.destination, m.status, m.message_type,
    m.encoding, COALESCE(m.parts, m.segments), m.registered_delivery, m.origin_system_id,
    m.error_code, m.error_detail, m.created_at, m.updated_at, m.submitted_at, m.done_at,
    m.send_at, m.expires_at
FROM messages m JOIN accounts a ON a.id = m.account_id
WHERE m.id = ?
"""

SELECT_PART_DETAILS = """
SELECT seq, status, connector, upstream_id, attempts, error_code, error_detail, owner, due_at,
    submitted_at, done_at
FROM parts WHERE message_id = ? ORDER BY seq
"""

# Submitted parts whose receipt never came. Only parts of messages that asked the carrier for
# a receipt: without one, `submitted` is as far as a part ever gets and is not stuck.
# `p.connector = COALESCE(?, p.connector)` is "this connector, or any when NULL".
STUCK_SUBMITTED = """
SELECT p.message_id, p.seq FROM parts p JOIN messages m ON m.id = p.message_id
WHERE p.status = 'submitted' AND p.submitted_at < ? AND m.registered_delivery = ?
  AND p.connector = COALESCE(?, p.connector) AND (p.message_id, p.seq) > (?, ?)
ORDER BY p.message_id, p.seq
LIMIT ?
"""

# Parts that failed on temporary errors (their retries ran out) since a time: what a carrier
# outage leaves behind. Messages whose validity has ended are not worth sending again.
FAILED_SINCE = """
SELECT p.message_id, p.seq FROM parts p JOIN messages m ON m.id = p.message_id
WHERE p.status = 'failed' AND p.done_at >= ?
  AND (m.expires_at IS NULL OR m.expires_at > ?)
  AND p.connector = COALESCE(?, p.connector) AND (p.message_id, p.seq) > (?, ?)
ORDER BY p.message_id, p.seq
LIMIT ?
"""

# Queued parts no node holds, waiting since before a time (since their scheduled time, or
# their acceptance), taken like a claim so no node sends one while it is being expired.
STALE_QUEUED = """
SELECT p.message_id, p.seq FROM parts p JOIN messages m ON m.id = p.message_id
WHERE p.status = 'queued' AND p.owner IS NULL AND COALESCE(m.send_at, m.created_at) < ?
  AND p.connector = COALESCE(?, p.connector)
ORDER BY p.message_id, p.seq
LIMIT ?
"""

SET_OWNER_IF_FREE = """
UPDATE parts SET owner = ? WHERE message_id = ? AND seq = ? AND status = 'queued'
  AND owner IS NULL
"""

# An operator's retry moves a part back to the shared queue, due now, unowned, with a fresh
# attempt budget; this is the one place a status moves backwards, and only from these two.
# upstream_id stays until the next submit replaces it, so a late receipt for the first send
# still finds the part (and a delivered one is then not sent again).
REQUEUE_PART = """
UPDATE parts SET status = 'queued', status_rank = ?, owner = NULL, due_at = ?, attempts = 0,
    error_code = NULL, error_detail = NULL, submitted_at = NULL, done_at = NULL, updated_at = ?
WHERE message_id = ? AND seq = ? AND status IN ('submitted', 'failed')
"""

SET_MESSAGE_STATUS = """
UPDATE messages SET status = ?, status_rank = ?, done_at = NULL, error_code = NULL,
    error_detail = NULL, updated_at = ?
WHERE id = ?
"""


def queue_lane(r: Row) -> QueueLane:
    return QueueLane(
        connector=r[0],
        priority=r[1],
        queued=r[2],
        due=r[3] or 0,
        held=r[4] or 0,
        oldest_due_at=r[5],
    )


def message_detail(r: Row, parts: Sequence[Row]) -> MessageDetail:
    return MessageDetail(
        id=r[0],
        account_id=r[1],
        account_name=r[2],
        source=r[3],
        destination=r[4],
        status=Status(r[5]),
        message_type=MessageType(r[6]),
        encoding=r[7],
        segments=r[8],
        registered_delivery=bool(r[9]),
        origin_system_id=r[10],
        error_code=r[11],
        error_detail=r[12],
        created_at=r[13],
        updated_at=r[14],
        submitted_at=r[15],
        done_at=r[16],
        send_at=r[17],
        expires_at=r[18],
        parts=tuple(
            PartDetail(
                seq=p[0],
                status=Status(p[1]),
                connector=p[2],
                upstream_id=p[3],
                attempts=p[4],
                error_code=p[5],
                error_detail=p[6],
                owner=p[7],
                due_at=p[8],
                submitted_at=p[9],
                done_at=p[10],
            )
            for p in parts
        ),
    )


def stuck_query(status: Status) -> str:
    if status is Status.SUBMITTED:
        return STUCK_SUBMITTED
    if status is Status.FAILED:
        return FAILED_SINCE
    raise ValueError(f"no stuck-part scan for {status.value!r}")


def stuck_params(
    status: Status,
    *,
    before: float,
    now: float,
    connector: str | None,
    after: PartKey | None,
    limit: int,
) -> tuple[object, ...]:
    cursor = after or PartKey("", -1)
    if status is Status.SUBMITTED:
        return (before, True, connector, cursor.message_id, cursor.seq, limit)
    return (before, now, connector, cursor.message_id, cursor.seq, limit)


def requeue_rows(keys: Sequence[PartKey], now: float) -> list[tuple[object, ...]]:
    return [(Status.QUEUED.rank, now, now, k.message_id, k.seq) for k in keys]


def plan_requeued_messages(
    messages: Mapping[str, MessageRow], parts: Mapping[str, list[PartRow]], now: float
) -> list[tuple[object, ...]]:
    """`SET_MESSAGE_STATUS` rows for messages whose status, re-aggregated from their parts
    after a retry, differs from the stored one (a `failed` message whose parts are queued
    again is `queued` again)."""
    rows: list[tuple[object, ...]] = []
    for message_id, message in messages.items():
        statuses = [p.status for p in parts.get(message_id, ())]
        statuses += [Status.ACCEPTED] * (message.segments - len(statuses))
        new = aggregate_status(statuses)
        if new is not message.status:
            rows.append((new.value, new.rank, now, message_id))
    return rows
