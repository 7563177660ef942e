"""API keys against a real store: slow-hashed keys verify once, then cached answers and
admin-change refreshes cost a store read but no new scrypt; revocation still takes effect."""

from __future__ import annotations

import asyncio
import hashlib
import threading

import pytest

import gateway.keys as keys_module
from gateway.domain import new_id
from gateway.keys import KeyAuthenticator, display_prefix
from gateway.store import Store


async def _account_and_key(store: Store) -> tuple[str, KeyAuthenticator, str]:
    account_id = new_id()
    await store.create_account(account_id=account_id, name="acme", now=1.0)
    auth = KeyAuthenticator(store=store)
    return account_id, auth, await auth.create_key(account_id=account_id)


def _count_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The stored hashes each slow check (scrypt) is made against, from now on."""
    verified: list[str] = []
    real_verify = keys_module.verify_key

    def counting_verify(presented: str, stored: str) -> bool:
        verified.append(stored)
        return real_verify(presented, stored)

    monkeypatch.setattr(keys_module, "verify_key", counting_verify)
    return verified


async def test_refresh_after_an_admin_change_needs_no_new_hash(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    account_id, auth, key = await _account_and_key(store)
    verified = _count_checks(monkeypatch)
    account = await auth.authenticate(key)
    assert account is not None and account.id == account_id and len(verified) == 1
    assert await auth.authenticate(key) == account and len(verified) == 1  # cached
    auth.forget()  # an admin change elsewhere
    assert await auth.authenticate(key) == account and len(verified) == 1  # no second scrypt
    assert await auth.authenticate(key + "x") is None

    await store.revoke_api_keys(account_id=account_id, prefix=display_prefix(key), now=2.0)
    auth.forget()
    assert await auth.authenticate(key) is None


async def test_a_key_stored_as_sha256_before_the_slow_hash_still_works(store: Store) -> None:
    account_id = new_id()
    await store.create_account(account_id=account_id, name="acme", now=1.0)
    key = "gw_legacy-key-stored-before-migration-16"
    legacy = hashlib.sha256(key.encode()).hexdigest()
    await store.add_api_key(
        account_id=account_id, key_hash=legacy, prefix=display_prefix(key), now=1.0
    )
    account = await KeyAuthenticator(store=store).authenticate(key)
    assert account is not None and account.id == account_id


async def test_requests_arriving_together_with_a_new_key_share_one_check(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    account_id, auth, key = await _account_and_key(store)
    verified = _count_checks(monkeypatch)
    requests = [asyncio.ensure_future(auth.authenticate(key)) for _ in range(32)]
    requests[0].cancel()  # the first client hangs up: the others still get their answer
    answers = await asyncio.gather(*requests[1:])
    assert all(a is not None and a.id == account_id for a in answers)
    assert len(verified) == 1
    # A wrong key arriving with them is checked on its own and refused.
    wrong, right = await asyncio.gather(auth.authenticate(key + "x"), auth.authenticate(key))
    assert wrong is None and right == answers[0]


async def test_a_lookup_begun_before_an_admin_change_caches_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    account_id, auth, key = await _account_and_key(store)
    checking, go_on = threading.Event(), threading.Event()
    real_verify = keys_module.verify_key

    def slow_verify(presented: str, stored: str) -> bool:
        checking.set()  # the lookup has read the key from the store, before the change
        go_on.wait(10)
        return real_verify(presented, stored)

    monkeypatch.setattr(keys_module, "verify_key", slow_verify)
    before = asyncio.ensure_future(auth.authenticate(key))
    assert await asyncio.to_thread(checking.wait, 10)
    await store.revoke_api_keys(account_id=account_id, prefix=display_prefix(key), now=2.0)
    auth.forget()
    go_on.set()
    assert await before is not None  # answered from what it read
    assert await auth.authenticate(key) is None  # but it did not keep that answer
