"""The message and part status lifecycle.

    accepted -> scheduled -> queued -> submitted
             -> delivered | undelivered | expired | rejected | failed
    (cancelled is reachable from any state before submitted)

A status only ever moves to a higher rank, and a terminal status never changes: a late, repeated
or out-of-order report (an ENROUTE after DELIVRD, a duplicate receipt) is ignored rather than
allowed to move a message backwards. The rank is stored next to the status so the store can
enforce this with a single guarded UPDATE (``WHERE status_rank < :new_rank``).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Status(StrEnum):
    ACCEPTED = "accepted"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    SUBMITTED = "submitted"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    EXPIRED = "expired"
    REJECTED = "rejected"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset(
    {
        Status.DELIVERED,
        Status.UNDELIVERED,
        Status.EXPIRED,
        Status.REJECTED,
        Status.FAILED,
        Status.CANCELLED,
    }
)

# Every terminal status shares the top rank, so the guard `rank < new_rank` also stops one
# terminal status from replacing another (a DELIVRD receipt after an EXPIRED one, say).
TERMINAL_RANK = 9
_RANK: dict[Status, int] = {
    Status.ACCEPTED: 0,
    Status.SCHEDULED: 1,
    Status.QUEUED: 2,
    Status.SUBMITTED: 3,
    **dict.fromkeys(TERMINAL, TERMINAL_RANK),
}


# A status by its stored value: a dictionary lookup, for code that reads many rows (the enum's
# own constructor costs several times more per call).
STATUS_BY_VALUE: dict[str, Status] = {s.value: s for s in Status}


def can_transition(current: Status, new: Status) -> bool:
    """Whether the lifecycle allows ``current -> new``."""
    if new is Status.CANCELLED:
        return current.rank < Status.SUBMITTED.rank
    return current.rank < new.rank


# When the parts of a multipart message end differently, the message takes the most
# telling failure: a permanent rejection says more than "undelivered", which says more than
# "expired" (the carrier gave up without a verdict).
_FAILURE_PRECEDENCE = (
    Status.REJECTED,
    Status.FAILED,
    Status.UNDELIVERED,
    Status.EXPIRED,
    Status.CANCELLED,
)


def aggregate_status(parts: Iterable[Status]) -> Status:
    """The status of a message from the statuses of its parts.

    Policy: the message is ``delivered`` only when every part is delivered; once every part is
    terminal and any is not delivered, it takes the most telling failure; until every part is
    terminal it shows the least advanced of its unfinished parts.
    """
    statuses = list(parts)
    if not statuses:
        raise ValueError("a message has at least one part")
    pending = [s for s in statuses if not s.terminal]
    if pending:
        return min(pending, key=lambda s: s.rank)
    failed = set(statuses) - {Status.DELIVERED}
    if not failed:
        return Status.DELIVERED
    for status in _FAILURE_PRECEDENCE:
        if status in failed:
            return status
    raise AssertionError(f"unhandled terminal statuses {failed}")  # pragma: no cover
