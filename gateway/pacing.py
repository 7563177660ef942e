"""Per-account sending rates: an account's parts go upstream no faster than its limit.

Two limits apply: the operator's `[account_rates]` from the config, and the account's own
`rate_limit` (admin API). Intake refuses single submits over `rate_limit`, but a batch's
recipients are one request and are not refused one by one: they are held to it here, as every
part of the account is. Where an account has both, the lower one paces it. An account's own
limit is paced with the one second of burst its admission allows, so a submit admitted at that
rate as a steady stream is not held a second time (a burst above it, a long message over a
second's worth of segments, retries and a backlog coming due are spread out at the rate); a
configured rate alone keeps parts one interval apart. A part under its account's rate with
none waiting before it goes at once, without a detour through the account's queue.

The limit is counted in segments (one part is one segment) on the shared `RateLimiter` under
`account:<id>` (admission counts in a limiter of its own), so with Redis it holds across every
node. A part over its account's rate must not
hold a dispatch worker while it waits, or one busy account would stall everybody's traffic on
the connector: it is set aside in its account's queue instead, and one task per waiting account
takes the account's tokens in order and hands each part back to its lane, cleared to go.
Memory is bounded by the parts dispatch holds (each waits in one queue at a time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Mapping

from gateway.domain import PartKey, PartRecord
from gateway.ratelimit import RateLimiter
from gateway.store import Store

log = logging.getLogger(__name__)

Release = Callable[[PartRecord], None]


def account_limit_key(account_id: str) -> str:
    return f"account:{account_id}"


async def resolve_account_rates(store: Store, configured: Mapping[str, float]) -> dict[str, float]:
    """Rates by account id from the configured ones, which name an account by its name or, when
    no account has that name, by its id (as route rules do)."""
    rates: dict[str, float] = {}
    for ref, rate in configured.items():
        account = await store.get_account_by_name(ref)
        rates[account.id if account is not None else ref] = rate
    return rates


class AccountPacer:
    def __init__(self, *, limiter: RateLimiter, rates: Mapping[str, float]) -> None:
        """`rates`: segments/s by account id from the config; the accounts' own limits come
        through `set_account_limits`. Accounts with neither are not limited here."""
        self._limiter = limiter
        self._configured = {account: rate for account, rate in rates.items() if rate > 0}
        self._own: dict[str, float] = {}
        self._limits: dict[str, tuple[float, float]] = {}  # account -> (rate, burst) in force
        self._waiting: dict[str, deque[tuple[PartRecord, Release]]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._cleared: set[PartKey] = set()
        self._apply()

    def set_account_limits(self, limits: Mapping[str, float]) -> None:
        """The accounts' own `rate_limit`s (segments/s by account id; 0: none), as the admin
        settings now stand. A changed limit spaces the parts still waiting (the one already
        waiting for its time keeps it); parts of an account no longer limited go at once."""
        self._own = {account: rate for account, rate in limits.items() if rate > 0}
        self._apply()

    def _apply(self) -> None:
        limits: dict[str, tuple[float, float]] = {}
        for account in self._configured.keys() | self._own.keys():
            configured, own = self._configured.get(account), self._own.get(account)
            if own is not None and (configured is None or own <= configured):
                limits[account] = (own, max(1.0, own))  # the burst admission allows
            else:
                assert configured is not None
                limits[account] = (configured, 1.0)
        for account, (rate, burst) in limits.items():
            if self._limits.get(account) != (rate, burst):
                self._limiter.configure(account_limit_key(account), rate, burst=burst)
        unlimited = self._limits.keys() - limits.keys()
        self._limits = limits
        for account in unlimited:  # back to their lanes, where nothing holds them now
            for part, release in self._waiting.pop(account, deque()):
                release(part)

    @property
    def waiting(self) -> int:
        return sum(len(queue) for queue in self._waiting.values())

    def admit(self, part: PartRecord, release: Release) -> bool:
        """Whether `part` may be sent now. If not, it is kept and `release(part)` is called
        when its account's rate lets it go; the part is then admitted at once."""
        if self._cleared:
            key = part.key
            if key in self._cleared:
                self._cleared.discard(key)
                return True
        account = part.account_id
        if account not in self._limits:
            return True
        if not self._waiting.get(account) and self._limiter.try_acquire(account_limit_key(account)):
            return True  # under its rate with nothing waiting before it: no detour
        queue = self._waiting.setdefault(part.account_id, deque())
        queue.append((part, release))
        if part.account_id not in self._tasks:
            self._tasks[part.account_id] = asyncio.create_task(
                self._pace(part.account_id), name=f"pace-{part.account_id}"
            )
        return False

    def withdraw(self, message_id: str) -> int:
        """Forget a cancelled message's waiting parts; returns how many there were."""
        removed = 0
        for account, queue in self._waiting.items():
            kept = deque(item for item in queue if item[0].message_id != message_id)
            removed += len(queue) - len(kept)
            self._waiting[account] = kept
        # A part cleared and back in its lane is withdrawn from the lane: forget its pass too.
        self._cleared = {key for key in self._cleared if key.message_id != message_id}
        return removed

    async def _pace(self, account: str) -> None:
        limit = account_limit_key(account)
        try:
            while self._waiting.get(account):
                await self._limiter.acquire(limit)
                queue = self._waiting.get(account)  # `withdraw` may have replaced it meanwhile
                if not queue:  # withdrawn while we waited: the token is spent, nothing to send
                    continue
                part, release = queue.popleft()
                self._cleared.add(part.key)
                release(part)
        except Exception:
            log.exception("pacing an account's parts failed; they are sent unpaced")
            for part, release in self._waiting.pop(account, deque()):
                self._cleared.add(part.key)
                release(part)
        finally:
            self._tasks.pop(account, None)
            if not self._waiting.get(account):
                self._waiting.pop(account, None)

    async def stop(self) -> None:
        """Stop pacing; parts still waiting stay owned by this node in the store and are
        taken back when it starts again (or by another node once its heartbeat is stale)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._waiting.clear()
        self._cleared.clear()
