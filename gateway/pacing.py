"""Per-account sending rates: an account's parts go upstream no faster than its limit.

The operator's `[account_rates]` (config) are counted in segments (one part is one segment) on
the shared `RateLimiter` under `account:<id>`, so with Redis they hold across every node. A
part under its account's rate with none waiting before it goes at once. One over it must not
hold a dispatch worker while it waits, or one busy account would stall everybody's traffic on
the connector: it is set aside in its account's queue instead, and one task per waiting account
takes the account's tokens in order and hands each part back to its lane, cleared to go.
Memory is bounded by the parts dispatch holds (each waits in one queue at a time). That room
is shared by every account, so a large batch of a paced account fills it and holds the others
back: an operator's limit, set in the config, not one every account's `rate_limit` brings.
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
        """`rates`: segments/s by account id; accounts not named are not limited here."""
        self._limiter = limiter
        self._limited = {account for account, rate in rates.items() if rate > 0}
        for account in self._limited:
            limiter.configure(account_limit_key(account), rates[account])
        self._waiting: dict[str, deque[tuple[PartRecord, Release]]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._cleared: set[PartKey] = set()

    def forget(self, part: PartRecord) -> None:
        """A part cleared to go that went back to the store instead (its connector stopped):
        claimed again, it waits its turn like any other."""
        if self._cleared:
            self._cleared.discard(part.key)

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
        if account not in self._limited:
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
