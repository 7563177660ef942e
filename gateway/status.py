"""The status writer: the only code that changes a message's or a part's status.

Every transition goes through `StatusWriter.apply`, which group-commits concurrent updates into
one store transaction. The store applies a part transition only if the lifecycle allows it and
re-aggregates the message in the same transaction, so a late or duplicate report can never
move anything backwards, whichever node or connector it came from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from gateway.domain import OutboxItem, OutboxTake, PartUpdate, StatusChange
from gateway.groupcommit import GroupCommit
from gateway.store import Store

ChangeListener = Callable[[Sequence[StatusChange]], None]


class ReceiptTaker(Protocol):
    """Sends receipts owed to ESMEs (the SMPP outbox delivery): those it can send at once are
    handed over from the transaction that owes them, leased to its node, with no claim."""

    def offer(self) -> OutboxTake | None: ...
    def taken(self, take: OutboxTake | None, items: Sequence[OutboxItem], left: int) -> None: ...


class StatusWriter:
    def __init__(self, *, store: Store, max_batch: int = 2000) -> None:
        self._store = store
        self._commit: GroupCommit[Sequence[PartUpdate], Sequence[StatusChange]] = GroupCommit(
            self._write, max_batch=max_batch
        )
        self._listeners: list[ChangeListener] = []
        self._taker: ReceiptTaker | None = None

    def subscribe(self, listener: ChangeListener) -> None:
        """`listener` sees every committed message transition, in commit order."""
        self._listeners.append(listener)

    def hand_receipts_to(self, taker: ReceiptTaker) -> None:
        self._taker = taker

    async def apply(self, updates: Sequence[PartUpdate]) -> Sequence[StatusChange]:
        if not updates:
            return ()
        return await self._commit.submit(updates)

    async def _write(self, groups: Sequence[Sequence[PartUpdate]]) -> list[Sequence[StatusChange]]:
        flat = [u for group in groups for u in group]
        taker = self._taker
        take = taker.offer() if taker is not None else None
        applied = await self._store.apply_updates_and_take(flat, take)
        if taker is not None:
            taker.taken(take, applied.taken, applied.left)
        changes = applied.changes
        for listener in self._listeners:
            listener(changes)
        by_message: dict[str, list[StatusChange]] = {}
        for change in changes:
            by_message.setdefault(change.message_id, []).append(change)
        return [[c for u in group for c in by_message.pop(u.message_id, ())] for group in groups]

    async def drain(self) -> None:
        await self._commit.drain()
