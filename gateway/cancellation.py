"""Cancelling a message that no node has started sending: REST DELETE and SMPP cancel_sm.

The parts are first taken in the store (`take_for_cancel`), so no other node can claim one
meanwhile; then this node's own dispatch lanes give theirs up, unless a part is being sent
right now. Only then does the status writer move the parts to `cancelled`, so a message that
is reported cancelled is never also sent.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from gateway.dispatch import Dispatcher
from gateway.domain import ClientError, MessageRecord, PartUpdate, Status
from gateway.domain.errors import NotCancellable, NotFound
from gateway.domain.listing import MessageFilter, Position
from gateway.phone import same_sender
from gateway.status import StatusWriter
from gateway.store import Store

# Bulk cancel (SMPP cancel_sm without a message_id) looks at this many messages at most.
BULK_CANCEL_LIMIT = 1000
_CANCELLABLE = (Status.ACCEPTED, Status.SCHEDULED, Status.QUEUED)


class Cancellation:
    def __init__(
        self,
        *,
        store: Store,
        dispatcher: Dispatcher,
        status: StatusWriter,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._dispatcher = dispatcher
        self._status = status
        self._clock = clock

    async def cancel(self, *, account_id: str, message_id: str) -> MessageRecord:
        """The message, now `cancelled`. `NotFound` if the account has no such message;
        `NotCancellable` (its current status in `message_status`) once a node has started
        sending it, or it is done (cancelled included)."""
        record = await self._store.get_message(account_id=account_id, message_id=message_id)
        if record is None:
            raise NotFound("no such message")
        if record.status.rank >= Status.SUBMITTED.rank:
            raise _refusal(record.status)
        node_id = self._dispatcher.node_id
        taken = await self._store.take_for_cancel(message_id=message_id, node_id=node_id)
        if taken is None:  # another node holds or has sent a part
            raise await self._refusal_now(account_id, message_id)
        # No await between the check and the withdrawal: no worker here can start sending.
        if self._dispatcher.in_flight(message_id):
            # Too late; what we took from nobody goes back to the queue for any node.
            await self._store.untake(message_id=message_id, seqs=taken, node_id=node_id)
            raise _refusal(Status.QUEUED)
        self._dispatcher.withdraw(message_id)
        now = self._clock()
        await self._status.apply(
            [PartUpdate(message_id, p.seq, Status.CANCELLED, now) for p in record.parts]
        )
        after = await self._store.get_message(account_id=account_id, message_id=message_id)
        if after is None or after.status is not Status.CANCELLED:
            raise _refusal(after.status if after else record.status)
        return after

    async def cancel_matching(
        self,
        *,
        account_id: str,
        destination: str,
        source: str | None,
        keep: Callable[[MessageRecord], bool] = lambda record: True,
        limit: int = BULK_CANCEL_LIMIT,
    ) -> int:
        """Cancel the account's messages to `destination` (from `source` when given, and
        those `keep` selects) that no node has started sending; return how many.
        At most `limit` messages are looked at, newest first, so one request's work stays
        bounded; those already in a node's hands are passed over, as for one message."""
        cancelled = looked = 0
        after: Position | None = None
        where = MessageFilter(statuses=_CANCELLABLE, destination=destination)
        while looked < limit:
            page = await self._store.list_messages(
                account_id=account_id, where=where, after=after, limit=min(200, limit - looked)
            )
            if not page:
                break
            looked += len(page)
            after = Position(page[-1].created_at, page[-1].id)
            for record in page:
                if source is not None and not same_sender(record.source, source):
                    continue
                if not keep(record):
                    continue
                try:
                    await self.cancel(account_id=account_id, message_id=record.id)
                except (NotCancellable, NotFound):
                    continue  # taken for sending, or done, since the page was read
                cancelled += 1
        return cancelled

    async def _refusal_now(self, account_id: str, message_id: str) -> ClientError:
        current = await self._store.get_message(account_id=account_id, message_id=message_id)
        return _refusal(current.status if current else Status.QUEUED)


def _refusal(status: Status) -> ClientError:
    return NotCancellable(
        f"the message is {status.value}: only a message that no node has started sending"
        " can be cancelled",
        message_status=status.value,
    )
