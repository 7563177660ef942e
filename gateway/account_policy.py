"""Per-account admission at intake: suspension, sender IDs, spend cap, daily quota, rate limit.

REST and SMPP submissions both pass here before their commit, so the two front doors enforce the
same rules. Nothing here costs a store round trip per message: account settings and usage are
held in memory and reloaded by `gateway.admin_refresh` (settings when the config version moves,
usage every refresh interval).

Usage is counted exactly in the store (the counter row is updated in the transaction that
inserts the messages) and approximately here: this node's view is the store's counters as of the
last refresh, plus what this node committed since, plus what it has in flight. Alone, a node
never lets an account past its quota or cap. With N nodes, each may also admit what the others
committed since its last refresh, so the overshoot is bounded by what the other nodes accept for
the account in one refresh interval: at most (N - 1) x rate_limit x interval segments when the
account has a rate limit (the rate limit itself is shared exactly through Redis).
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import phonenumbers

from gateway.domain import NewMessage
from gateway.domain.accounts import (
    AccountSettings,
    Usage,
    sender_allowed,
    sender_registered,
    usage_day,
)
from gateway.domain.errors import (
    AccountQuotaExceeded,
    AccountRateLimited,
    AccountSpendCapReached,
    AccountSuspended,
    SenderNotAllowed,
)
from gateway.ratelimit.admission import Admission
from gateway.routing import destination_region
from gateway.sender_rules import SenderRules
from gateway.store import Store

_NUMERIC = re.compile(r"^\+?[0-9]+$")


@dataclass(slots=True)
class _Count:
    segments: int = 0
    spend: float = 0.0


@dataclass(frozen=True, slots=True)
class Admitted:
    """A message let in, and what it counts against its account until its commit settles."""

    message: NewMessage
    segments: int
    cost: float


class AccountPolicy:
    def __init__(
        self,
        *,
        store: Store,
        admission: Admission,
        sender_rules: SenderRules | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._admission = admission
        self._rules = rules = sender_rules or SenderRules()
        # Calling codes of the countries with rules: a destination outside them needs no
        # number lookup (~0.1 ms each, too much to pay for every message).
        self._rule_prefixes = tuple(
            {
                f"+{phonenumbers.country_code_for_region(region)}"
                for region in (*rules.numeric_only, *rules.registered_alphanumeric)
            }
        )
        self._clock = clock
        self._accounts: dict[str, AccountSettings] = {}
        self._day = ""
        self._stored: dict[str, Usage] = {}
        self._since: dict[str, _Count] = {}  # committed here since the store was read
        self._inflight: dict[str, _Count] = {}  # admitted here, commit not settled

    # -- what the refresher feeds in --------------------------------------------------------

    def set_accounts(self, accounts: Iterable[AccountSettings]) -> None:
        self._accounts = {a.id: a for a in accounts}

    async def refresh_usage(self) -> None:
        day = usage_day(self._clock())
        # Forget local counts before reading: a commit finishing during the read is then
        # counted twice for a moment (too strict), never missed (too lenient).
        self._since = {}
        stored = await self._store.account_usage(day=day, limited_only=True)
        self._stored, self._day = stored, day

    def usage(self, account_id: str) -> Usage:
        """This node's view of an account's usage today and this month."""
        day = usage_day(self._clock())
        stored = self._stored.get(account_id, Usage()) if self._day else Usage()
        day_segments = stored.day_segments if day == self._day else 0
        month_spend = stored.month_spend if day[:7] == self._day[:7] else 0.0
        for counts in (self._since, self._inflight):
            c = counts.get(account_id)
            if c is not None:
                day_segments += c.segments
                month_spend += c.spend
        return Usage(day_segments, month_spend)

    def priced(self, message: NewMessage) -> NewMessage:
        """The message at its account's own price, where the account has one. For a message
        no limit may refuse (a keyword reply), which is still billed as the account's."""
        account = self._accounts.get(message.account_id)
        if account is None or account.price is None or message.price == account.price:
            return message
        return dataclasses.replace(message, price=account.price)

    async def admit_exempt(self, message: NewMessage) -> Admitted:
        """`admit` for a message no limit may refuse (a keyword reply): priced as the account's
        (its settings read from the store when this node has not loaded them yet) and counted
        in its usage like any other, but never refused."""
        await self._settings(message.account_id)
        message = self.priced(message)
        segments = message.billed_segments or len(message.parts)
        return self._count(Admitted(message, segments, segments * (message.price or 0.0)))

    async def _settings(self, account_id: str) -> AccountSettings | None:
        account = self._accounts.get(account_id)
        if account is None:
            account = await self._store.get_account_settings(account_id)
            if account is not None:
                self._accounts[account.id] = account
        return account

    def price_per_segment(self, account_id: str, route_price: float) -> float:
        """The account's own price when it has one, else its route's."""
        account = self._accounts.get(account_id)
        return account.price if account is not None and account.price is not None else route_price

    # -- checks -----------------------------------------------------------------------------

    def check_sender(self, account_id: str, sender: str, destination: str) -> None:
        """Raise `SenderNotAllowed` naming the reason."""
        account = self._accounts.get(account_id)
        allowed = account.allowed_senders if account is not None else ()
        if not sender_allowed(allowed, sender):
            raise SenderNotAllowed(
                f"sender {sender!r} is not among this account's allowed senders", sender=sender
            )
        if _NUMERIC.match(sender) or not destination.startswith(self._rule_prefixes):
            return
        region = destination_region(destination)
        if region in self._rules.numeric_only:
            raise SenderNotAllowed(
                f"alphanumeric senders are not delivered in {region}: send from a number",
                sender=sender,
                country=region,
            )
        if region in self._rules.registered_alphanumeric and not sender_registered(allowed, sender):
            raise SenderNotAllowed(
                f"alphanumeric senders must be registered for {region}, and {sender!r} is not "
                "in this account's allowed senders",
                sender=sender,
                country=region,
            )

    async def admit(self, message: NewMessage, *, rate_limited: bool = True) -> Admitted:
        """Check a message against its account; count it as in flight until `settle`.
        `rate_limited=False`: a recipient of a batch, which is one request however many
        recipients it has. It is not held to the account's rate at all (README): refusing
        recipients one by one would split the batch, and pacing them in dispatch's memory
        would let one large batch fill the room every other account needs."""
        account = await self._settings(message.account_id)
        if account is None:  # not one the admin API knows (cannot happen for stored accounts)
            segments = message.billed_segments or len(message.parts)
            return Admitted(message, segments, segments * (message.price or 0.0))
        checked = self._check(message, account)
        if rate_limited and account.rate_limit > 0:
            wait = await self._admission.try_take(
                f"account:{account.id}", rate=account.rate_limit, n=checked.segments
            )
            _refuse_if_waiting(account, wait)
        return self._count(checked)

    def admit_now(self, message: NewMessage, *, rate_limited: bool = True) -> Admitted | None:
        """`admit` when it needs no I/O: the account's settings are cached and its rate, if
        any, is counted in memory. None otherwise, with nothing counted: await `admit`."""
        account = self._accounts.get(message.account_id)
        if account is None:
            return None
        checked = self._check(message, account)
        if rate_limited and account.rate_limit > 0:
            wait = self._admission.take_now(
                f"account:{account.id}", rate=account.rate_limit, n=checked.segments
            )
            if wait is None:
                return None
            _refuse_if_waiting(account, wait)
        return self._count(checked)

    def _check(self, message: NewMessage, account: AccountSettings) -> Admitted:
        """Raise what the account refuses the message for; else it (at the account's price),
        its segments and cost, not counted yet."""
        segments = message.billed_segments or len(message.parts)
        if not account.active:
            raise AccountSuspended(f"account {account.name!r} is suspended")
        self.check_sender(account.id, message.source, message.destination)
        message = self.priced(message)
        cost = segments * (message.price or 0.0)
        used = self.usage(account.id)
        if account.spend_cap is not None and used.month_spend + cost > account.spend_cap + 1e-9:
            raise AccountSpendCapReached(
                f"this message costs {cost:g}; {used.month_spend:g} of the monthly cap "
                f"{account.spend_cap:g} is spent",
            )
        if account.daily_quota is not None and used.day_segments + segments > account.daily_quota:
            raise AccountQuotaExceeded(
                f"this message needs {segments} segment(s); {used.day_segments} of the daily "
                f"quota of {account.daily_quota} are used (the quota resets at 00:00 UTC)",
            )
        return Admitted(message, segments, cost)

    def _count(self, admitted: Admitted) -> Admitted:
        count = self._inflight.setdefault(admitted.message.account_id, _Count())
        count.segments += admitted.segments
        count.spend += admitted.cost
        return admitted

    def settle(self, admitted: Admitted, *, committed: bool) -> None:
        """The commit of an admitted message ended: count it as sent, or forget it."""
        account_id = admitted.message.account_id
        count = self._inflight.get(account_id)
        if count is not None:
            count.segments -= admitted.segments
            count.spend -= admitted.cost
            if count.segments <= 0:
                del self._inflight[account_id]
        if committed:
            since = self._since.setdefault(account_id, _Count())
            since.segments += admitted.segments
            since.spend += admitted.cost


def _refuse_if_waiting(account: AccountSettings, wait: float) -> None:
    if wait > 0:
        retry_after = max(1, math.ceil(wait))
        raise AccountRateLimited(
            f"the account may send {account.rate_limit:g} segments/s; retry in {retry_after} s",
            retry_after=retry_after,
        )
