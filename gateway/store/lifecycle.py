"""Pure rules the stores share when the status writer applies part updates: which message
transitions follow, and which receipts are now owed to ESMEs. Both stores read the same rows
back inside the transaction and call these, so SQLite and PostgreSQL cannot drift apart."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from gateway.domain import (
    OutboxTake,
    PartUpdate,
    Status,
    StatusChange,
    aggregate_status,
    public_part_id,
)
from gateway.domain.status import STATUS_BY_VALUE
from gateway.slots import slot_init
from gateway.store.sql import Row

# How long a receipt waits for an ESME receiver to bind before it is dropped (and counted).
ESME_RECEIPT_TTL = 72 * 3600.0


# The rows the status writer reads back are named tuples: built for every row of every status
# commit while holding the GIL, where a frozen dataclass's `__init__` costs four times more.
class MessageRow(NamedTuple):
    id: str
    account_id: str
    status: Status
    segments: int
    origin_system_id: str | None
    source: str
    destination: str
    body: str
    esme_receipt: int
    created_at: float


class PartRow(NamedTuple):
    message_id: str
    seq: int
    status: Status
    esme_receipt: int
    error_code: str | None
    submitted_at: float | None
    done_at: float | None


@slot_init
@dataclass(frozen=True, slots=True)
class MessageChange:
    change: StatusChange
    rank: int
    submitted_at: float | None
    done_at: float | None
    error_code: str | None
    error_detail: str | None

    def update_row(self) -> tuple[object, ...]:
        c = self.change
        return (
            c.status.value,
            self.rank,
            self.submitted_at,
            self.done_at,
            self.error_code,
            self.error_detail,
            c.at,
            c.message_id,
            self.rank,
        )


def message_row(r: Row) -> MessageRow:
    return MessageRow(
        id=r[0],
        account_id=r[1],
        status=STATUS_BY_VALUE[r[2]],
        segments=r[3],
        origin_system_id=r[4],
        source=r[5],
        destination=r[6],
        body=r[7],
        esme_receipt=r[8],
        created_at=r[9],
    )


def part_row(r: Row) -> PartRow:
    return PartRow(
        message_id=r[0],
        seq=r[1],
        status=STATUS_BY_VALUE[r[2]],
        esme_receipt=r[3],
        error_code=r[4],
        submitted_at=r[5],
        done_at=r[6],
    )


def plan_message_changes(
    updates: Sequence[PartUpdate],
    messages: Mapping[str, MessageRow],
    parts: Mapping[str, list[PartRow]],
) -> list[MessageChange]:
    """Message transitions implied by the part statuses read back after the updates."""
    latest: dict[str, PartUpdate] = {}
    for update in updates:
        # The most advanced update of a batch speaks for the message: a late intermediate
        # receipt (ENROUTE, err:000) committed with the final one must not lend its error code.
        current = latest.get(update.message_id)
        if current is None or update.status.rank >= current.status.rank:
            latest[update.message_id] = update
    changes: list[MessageChange] = []
    for message_id, update in latest.items():
        message = messages.get(message_id)
        if message is None:
            continue
        statuses = [p.status for p in parts.get(message_id, ())]
        # Parts of an SMPP long message that have not arrived yet count as just accepted: a
        # message is never final while some of its parts are still to come.
        statuses += [Status.ACCEPTED] * (message.segments - len(statuses))
        new = aggregate_status(statuses)
        if new.rank <= message.status.rank:
            continue
        error_code = update.error_code if new.terminal and new is not Status.DELIVERED else None
        changes.append(
            MessageChange(
                change=StatusChange(message_id, message.account_id, message.status, new, update.at),
                rank=new.rank,
                submitted_at=update.at if _was_sent(new) else None,
                done_at=update.at if new.terminal else None,
                error_code=error_code,
                error_detail=update.error_detail if error_code else None,
            )
        )
    return changes


def plan_esme_receipts(
    updates: Sequence[PartUpdate],
    messages: Mapping[str, MessageRow],
    parts: Mapping[str, list[PartRow]],
    changes: Sequence[MessageChange],
    now: float,
) -> list[tuple[object, ...]]:
    """Outbox rows (for `INSERT_OUTBOX_RECEIPT`) for parts that just reached a final status and
    whose submit asked for a receipt, and for messages whose single submit did. Inserting twice
    is harmless: the outbox is unique per part (seq -1 stands for the whole message).

    A part counts only if this write made it final: its `done_at` is the time of one of these
    updates (the guarded UPDATE sets it once). A carrier repeating a final receipt later must
    not owe the ESME a second one after the first was delivered and its outbox row removed."""
    final_at: dict[tuple[str, int], set[float]] = {}
    for u in updates:
        if u.retry_at is None and u.status.terminal:
            final_at.setdefault((u.message_id, u.seq), set()).add(u.at)
    rows: list[tuple[object, ...]] = []
    for planned in changes:
        message = messages[planned.change.message_id]
        status = planned.change.status
        wanted = message.esme_receipt & 0x03
        if message.origin_system_id is None or not status.terminal or not wanted:
            continue
        if wanted == 1 or status is not Status.DELIVERED:
            rows.append(
                (
                    message.origin_system_id,
                    message.id,
                    -1,
                    message.id,
                    status.value,
                    planned.error_code,
                    message.destination,
                    message.source,
                    message.body[:20],
                    planned.submitted_at or message.created_at,
                    planned.done_at or now,
                    now,
                    now + ESME_RECEIPT_TTL,
                )
            )
    for message_id in {m for m, _ in final_at}:
        row = messages.get(message_id)
        if row is None or row.origin_system_id is None:
            continue
        for part in parts.get(message_id, ()):
            if part.done_at not in final_at.get((message_id, part.seq), ()):
                continue
            wanted = part.esme_receipt & 0x03
            if wanted == 1 or (wanted == 2 and part.status is not Status.DELIVERED):
                rows.append(
                    (
                        row.origin_system_id,
                        message_id,
                        part.seq,
                        public_part_id(message_id, part.seq, row.segments),
                        part.status.value,
                        part.error_code,
                        # A receipt travels back: from the destination to the sender.
                        row.destination,
                        row.source,
                        row.body[:20],
                        part.submitted_at,
                        part.done_at or now,
                        now,
                        now + ESME_RECEIPT_TTL,
                    )
                )
    return rows


def split_taken(
    receipts: Sequence[tuple[object, ...]], take: OutboxTake | None
) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """The receipt rows `take` asks for, as rows of `INSERT_OUTBOX_RECEIPT_TAKEN` (leased to its
    node), and the others, for `INSERT_OUTBOX_RECEIPT`."""
    if take is None:
        return [], list(receipts)
    room = dict(take.room)
    taken: list[tuple[object, ...]] = []
    left: list[tuple[object, ...]] = []
    for row in receipts:
        system_id = str(row[0])
        if room.get(system_id, 0) > 0:
            room[system_id] -= 1
            taken.append((*row, take.node_id, take.lease_until))
        else:
            left.append(row)
    return taken, left


def _was_sent(status: Status) -> bool:
    return status.rank >= Status.SUBMITTED.rank and status is not Status.CANCELLED
