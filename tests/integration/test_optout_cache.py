"""The per-node opt-out cache: no store read per message, another node's change seen within
the TTL, this node's at once, bounded memory; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from gateway.domain import MessageType, new_id
from gateway.domain.errors import RecipientOptedOut
from gateway.store import Store
from gateway.suppression import OptOutPolicies

NOW = 1_700_000_000.0
HANDSET = "+4915112345678"
PROMO = MessageType.PROMOTIONAL


class CountingStore:
    """The real store, counting the opt-out reads the cache makes."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.reads: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        if name in ("optout_version", "load_optout", "suppressed_among"):
            self.reads[name] += 1
        return getattr(self._store, name)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def _account(store: Store, name: str = "acme") -> str:
    account_id = new_id()
    await store.create_account(account_id=account_id, name=name, now=NOW)
    return account_id


async def test_checks_within_the_ttl_cost_no_store_read(store: Store) -> None:
    account_id = await _account(store)
    counting, clock = CountingStore(store), Clock()
    policies = OptOutPolicies(store=counting, ttl=2.0, clock=clock)  # type: ignore[arg-type]
    for _ in range(1000):
        await policies.enforce(account_id, HANDSET, PROMO)
    assert counting.reads == Counter({"load_optout": 1})

    # Another node suppresses the number: this node sees it once the TTL has passed, after
    # one version read and one reload.
    await store.add_suppressions(
        account_id=account_id, numbers=[HANDSET], reason=None, source="api", now=NOW
    )
    clock.now += 1.0
    await policies.enforce(account_id, HANDSET, PROMO)  # still the cached list
    clock.now += 1.5
    with pytest.raises(RecipientOptedOut):
        await policies.enforce(account_id, HANDSET, PROMO)
    assert counting.reads == Counter({"load_optout": 2, "optout_version": 1})

    # Past the TTL with nothing changed: the version only.
    clock.now += 5
    with pytest.raises(RecipientOptedOut):
        await policies.enforce(account_id, HANDSET, PROMO)
    assert counting.reads == Counter({"load_optout": 2, "optout_version": 2})


async def test_a_change_on_this_node_is_seen_at_once(store: Store) -> None:
    account_id = await _account(store)
    policies = OptOutPolicies(store=store, ttl=3600.0)
    await policies.enforce(account_id, HANDSET, PROMO)
    await store.add_suppressions(
        account_id=account_id, numbers=[HANDSET], reason=None, source="api", now=NOW
    )
    policies.invalidate(account_id)
    with pytest.raises(RecipientOptedOut):
        await policies.enforce(account_id, HANDSET, PROMO)
    await policies.enforce(account_id, HANDSET, MessageType.TRANSACTIONAL)
    await policies.enforce(account_id, HANDSET, MessageType.OTP)


async def test_an_account_with_a_list_too_big_to_cache_is_asked_per_batch(store: Store) -> None:
    account_id = await _account(store)
    numbers = [f"+491511234{i:04d}" for i in range(20)]
    await store.add_suppressions(
        account_id=account_id, numbers=numbers, reason=None, source="api", now=NOW
    )
    counting = CountingStore(store)
    policies = OptOutPolicies(store=counting, max_numbers=10)  # type: ignore[arg-type]
    batch = [numbers[0], HANDSET, numbers[19]]
    assert await policies.opted_out(account_id, batch, PROMO) == {numbers[0], numbers[19]}
    assert counting.reads["suppressed_among"] == 1  # one query for the whole batch
    assert await policies.opted_out(account_id, batch, MessageType.TRANSACTIONAL) == set()


async def test_the_cache_is_bounded_in_accounts_and_numbers(store: Store) -> None:
    accounts = [await _account(store, f"a{i}") for i in range(4)]
    for i, account_id in enumerate(accounts):
        await store.add_suppressions(
            account_id=account_id,
            numbers=[f"+4915112345{i}{j}" for j in range(4)],
            reason=None,
            source="api",
            now=NOW,
        )
    policies = OptOutPolicies(store=store, max_accounts=3, max_numbers=10)
    for account_id in accounts:
        await policies.account(account_id)
    # Four lists of four numbers: at most ten numbers stay, the most recently used first.
    assert list(policies._entries) == accounts[2:]
    assert policies._cached_numbers == 8
    # An evicted account is read again when next needed.
    evicted = "+4915112345" + "00"
    assert await policies.opted_out(accounts[0], [evicted], PROMO) == {evicted}


async def test_concurrent_messages_of_one_account_share_one_read(store: Store) -> None:
    account_id = await _account(store)
    counting = CountingStore(store)
    policies = OptOutPolicies(store=counting)  # type: ignore[arg-type]
    await asyncio.gather(*(policies.enforce(account_id, HANDSET, PROMO) for _ in range(50)))
    assert counting.reads == Counter({"load_optout": 1})
