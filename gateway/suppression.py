"""Opt-out enforcement: each account's suppression list and settings, cached per node.

Checking a recipient must not cost a store round trip per message. Each node keeps, per
account, the suppressed numbers as a set, the settings, and the version they were read at.
Once `ttl` seconds have passed since the last check, the next message of that account asks
the store for the version only (one indexed read per account per `ttl`, not per message), and
reloads the list only when it moved. A change made on this node invalidates at once; one made
on another node is seen here within `ttl` seconds (2 s by default): that is the cross-node delay.

Memory is bounded twice: at most `max_accounts` accounts are cached (least recently used go
first) and at most `max_numbers` numbers over all of them. An account whose list alone is
bigger than that is not cached as a set; its recipients are looked up in the store, in one
query per batch (`opted_out`).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from gateway.domain import MessageType, NewMessage
from gateway.domain.errors import ClientError, RecipientOptedOut
from gateway.domain.optout import DEFAULT_SETTINGS, OptOutSettings
from gateway.phone import mask
from gateway.quiet_hours import quiet_until
from gateway.store import Store


@dataclass(frozen=True, slots=True)
class AccountOptOut:
    """An account's opt-out state as this node last read it."""

    account_id: str
    version: int
    settings: OptOutSettings
    numbers: frozenset[str] | None  # None: too many to cache; ask the store

    def enforced(self, message_type: MessageType) -> bool:
        return message_type in self.settings.enforce

    def hold_until(self, number: str, message_type: MessageType, at: float) -> float | None:
        """When a message due at `at` may go under the account's quiet hours; None: now."""
        quiet = self.settings.quiet_hours
        return quiet_until(number, at, quiet) if quiet.applies_to(message_type) else None


@dataclass(slots=True)
class _Entry:
    view: AccountOptOut
    checked_at: float


class OptOutPolicies:
    def __init__(
        self,
        *,
        store: Store,
        ttl: float = 2.0,
        max_accounts: int = 10_000,
        max_numbers: int = 500_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self.ttl = ttl
        self._max_accounts = max_accounts
        self._max_numbers = max_numbers
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._cached_numbers = 0
        self._loading: dict[str, asyncio.Future[AccountOptOut]] = {}

    def cached(self, account_id: str) -> AccountOptOut | None:
        """The account's state if this node read it less than `ttl` seconds ago, else None."""
        entry = self._entries.get(account_id)
        if entry is not None and self._clock() - entry.checked_at < self.ttl:
            self._entries.move_to_end(account_id)
            return entry.view
        return None

    async def account(self, account_id: str) -> AccountOptOut:
        """The account's state, at most `ttl` seconds older than the store's."""
        view = self.cached(account_id)
        if view is not None:
            return view
        entry = self._entries.get(account_id)
        now = self._clock()
        task = self._loading.get(account_id)
        if task is None:
            # A task of its own, shared by every message of the account that arrives while
            # it reads: one read, and a caller that is cancelled does not cancel the others'.
            task = asyncio.ensure_future(self._load(account_id, entry, now))
            task.add_done_callback(_retrieved)
            self._loading[account_id] = task
        return await asyncio.shield(task)

    async def _load(self, account_id: str, entry: _Entry | None, now: float) -> AccountOptOut:
        try:
            view = await self._refresh(account_id, entry)
        finally:
            current = self._loading.get(account_id) is asyncio.current_task()
            if current:
                del self._loading[account_id]
        if current:  # not invalidated while reading: the copy is not stale
            self._install(view, now)
        return view

    async def _refresh(self, account_id: str, entry: _Entry | None) -> AccountOptOut:
        if entry is not None:
            version = await self._store.optout_version(account_id)
            if version == entry.view.version:
                return entry.view
        version, settings, numbers = await self._store.load_optout(
            account_id=account_id, max_numbers=self._max_numbers
        )
        return AccountOptOut(
            account_id=account_id,
            version=version,
            settings=settings or DEFAULT_SETTINGS,
            numbers=None if numbers is None else frozenset(numbers),
        )

    def _install(self, view: AccountOptOut, now: float) -> None:
        self._drop(view.account_id)
        self._entries[view.account_id] = _Entry(view, now)
        self._cached_numbers += len(view.numbers or ())
        while len(self._entries) > 1 and (
            len(self._entries) > self._max_accounts or self._cached_numbers > self._max_numbers
        ):
            self._drop(next(iter(self._entries)))

    def _drop(self, account_id: str) -> None:
        old = self._entries.pop(account_id, None)
        if old is not None:
            self._cached_numbers -= len(old.view.numbers or ())

    def invalidate(self, account_id: str) -> None:
        """The account's list or settings changed on this node: read them again next time."""
        self._drop(account_id)
        self._loading.pop(account_id, None)

    async def opted_out(
        self, account_id: str, numbers: Sequence[str], message_type: MessageType
    ) -> set[str]:
        """Which of `numbers` (E.164) the account may not send `message_type` to. The check a
        batch makes once for all its recipients; usually no store read at all."""
        view = await self.account(account_id)
        if not view.enforced(message_type) or not numbers:
            return set()
        if view.numbers is not None:
            return {n for n in numbers if n in view.numbers}
        return await self._store.suppressed_among(account_id=account_id, numbers=numbers)

    async def enforce(self, account_id: str, number: str, message_type: MessageType) -> None:
        """Raise `RecipientOptedOut` if the account may not send `message_type` to `number`."""
        if await self.opted_out(account_id, [number], message_type):
            raise _opted_out(number, message_type)

    async def apply(self, message: NewMessage) -> NewMessage:
        """Enforce the opt-out list on a message about to be committed, and hold it until its
        recipient's quiet hours end (status `scheduled`, sent by dispatch when due)."""
        await self.enforce(message.account_id, message.destination, message.message_type)
        return _held(message, await self.account(message.account_id))

    def apply_now(self, message: NewMessage) -> NewMessage | None:
        """`apply` when it needs no store read: the account's state is cached, its list with
        it. None otherwise: await `apply`."""
        view = self.cached(message.account_id)
        if view is None:
            return None
        if view.enforced(message.message_type):
            if view.numbers is None:
                return None
            if message.destination in view.numbers:
                raise _opted_out(message.destination, message.message_type)
        return _held(message, view)


def _opted_out(number: str, message_type: MessageType) -> ClientError:
    return RecipientOptedOut(
        f"{mask(number)} has opted out of {message_type.value} messages from this account",
        number=number,
    )


def _held(message: NewMessage, view: AccountOptOut) -> NewMessage:
    """The message held until its recipient's quiet hours end, if they apply now."""
    due = message.send_at if message.send_at is not None else message.created_at
    hold = view.hold_until(message.destination, message.message_type, due)
    return message if hold is None else replace(message, send_at=hold)


def _retrieved(task: asyncio.Future[AccountOptOut]) -> None:
    # Its callers may all have been cancelled: never log "exception was never retrieved".
    if not task.cancelled():
        task.exception()
