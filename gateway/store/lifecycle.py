"""Pure rules the stores share for applying part updates and re-aggregating messages."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from gateway.domain import PartUpdate, Status, StatusChange, aggregate_status


@dataclass(frozen=True, slots=True)
class MessageChange:
    change: StatusChange
    rank: int
    submitted_at: float | None
    done_at: float | None
    error_code: str | None
    error_detail: str | None


def plan_message_changes(
    updates: Sequence[PartUpdate],
    messages: Mapping[str, tuple[str, Status]],
    part_statuses: Mapping[str, Iterable[Status]],
) -> list[MessageChange]:
    """Message transitions implied by the part statuses read back after the updates.

    `messages` maps message id to (account id, current status); `part_statuses` maps message id
    to the statuses of all its parts as now committed in this transaction.
    """
    latest: dict[str, PartUpdate] = {}
    for update in updates:
        latest[update.message_id] = update
    changes: list[MessageChange] = []
    for message_id, update in latest.items():
        if message_id not in messages:
            continue
        account_id, current = messages[message_id]
        new = aggregate_status(part_statuses[message_id])
        if new.rank <= current.rank:
            continue
        error_code = update.error_code if new.terminal and new is not Status.DELIVERED else None
        changes.append(
            MessageChange(
                change=StatusChange(message_id, account_id, current, new, update.at),
                rank=new.rank,
                submitted_at=update.at if _was_sent(new) else None,
                done_at=update.at if new.terminal else None,
                error_code=error_code,
                error_detail=update.error_detail if error_code else None,
            )
        )
    return changes


def _was_sent(status: Status) -> bool:
    return status.rank >= Status.SUBMITTED.rank and status is not Status.CANCELLED
