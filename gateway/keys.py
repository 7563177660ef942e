"""API keys: generation, hashing, and an account lookup cache.

Keys are stored with the slow salted hash of SMPP passwords (scrypt, `gateway.passwords`). A
generated key is 256 random bits and would be safe under a fast hash, but the operator may
choose a key (`GATEWAY_DEMO_KEY`), and a guessable one must not fall to a leaked table. A salted
hash cannot be searched for, so a key is found by its display prefix (its first characters,
also shown in listings) and verified against the few keys with that prefix. Verification costs
tens of milliseconds in a worker thread, so verified answers are cached in memory for a short
time (keyed by a SHA-256 digest that never leaves the process): a request costs no store read
and no hash, and a revoked key stops working within that time on every node. Keys stored
before migration 0016 hold a SHA-256 digest and still verify.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

from gateway.domain import Account
from gateway.passwords import hash_password, verify_password
from gateway.store import Store

KEY_PREFIX = "gw_"


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_digest(key: str) -> str:
    """A fast digest for comparisons in memory (the cache, the admin key); never stored."""
    return hashlib.sha256(key.encode()).hexdigest()


def hash_key(key: str) -> str:
    """What the store keeps of a key: slow and salted."""
    return hash_password(key)


def verify_key(key: str, stored: str) -> bool:
    if stored.startswith("scrypt$"):
        return verify_password(key, stored)
    return hmac.compare_digest(key_digest(key), stored)  # stored before migration 0016


def display_prefix(key: str) -> str:
    return key[: len(KEY_PREFIX) + 6]


async def find_key(
    store: Store, key: str, *, known: str | None = None
) -> tuple[str, Account] | None:
    """The stored hash and account (active or not) of this unrevoked key, or None. `known`:
    a stored hash this key was verified against before; still stored, it needs no new hash."""
    candidates = await store.api_keys_with_prefix(display_prefix(key))
    for stored, account in candidates:
        if stored == known:
            return stored, account
    for stored, account in candidates:
        if await asyncio.to_thread(verify_key, key, stored):
            return stored, account
    return None


class KeyAuthenticator:
    def __init__(
        self,
        *,
        store: Store,
        ttl: float = 30.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        # digest of the key -> (account or None, valid until, the stored hash it matched)
        self._cache: dict[str, tuple[Account | None, float, str | None]] = {}
        # Lookups in progress, by digest: requests with the same key that miss the cache
        # together share one (a client opening 32 connections at once with a new key cost 32
        # scrypt checks, each 16 MiB and tens of milliseconds, where one answers them all).
        self._lookups: dict[str, asyncio.Task[Account | None]] = {}
        self._generation = 0  # bumped by `forget`: a lookup begun before it caches nothing

    async def authenticate(self, key: str) -> Account | None:
        digest = key_digest(key)
        cached = self._cache.get(digest)
        if cached is not None and cached[1] > self._clock():
            return cached[0]
        lookup = self._lookups.get(digest)
        if lookup is None:
            # Expired or forgotten: the store says whether the key still stands, but a key
            # already verified against a hash that is still stored costs no second scrypt.
            known = None if cached is None else cached[2]
            lookup = asyncio.ensure_future(self._look_up(key, digest, known))
            self._lookups[digest] = lookup
            lookup.add_done_callback(lambda done: self._lookup_done(digest, done))
        # Shielded: a client that hangs up does not cancel the answer others wait for.
        return await asyncio.shield(lookup)

    async def _look_up(self, key: str, digest: str, known: str | None) -> Account | None:
        generation = self._generation
        found = await find_key(self._store, key, known=known)
        account, stored = (None, None) if found is None else (found[1], found[0])
        if account is not None and not account.active:
            account = None
        if generation == self._generation:
            if len(self._cache) >= self._max:
                self._cache.clear()  # crude but bounded; the store is the source of truth
            self._cache[digest] = (account, self._clock() + self._ttl, stored)
        return account

    def _lookup_done(self, digest: str, lookup: asyncio.Task[Account | None]) -> None:
        if self._lookups.get(digest) is lookup:
            del self._lookups[digest]
        if not lookup.cancelled():
            lookup.exception()  # retrieved: its waiters may all have gone

    def cached(self, key: str) -> Account | None:
        """The account of `key` if it was verified recently (no store read), else None."""
        entry = self._cache.get(key_digest(key))
        if entry is None or entry[1] <= self._clock():
            return None
        return entry[0]

    def forget(self) -> None:
        """Expire every cached answer: an admin change (a revoked key, a suspended account) was
        made, and the store says what holds now. Which stored hash each key matched is kept,
        so an admin change does not cost every active key a new scrypt. Lookups already under
        way answer their requests but cache nothing: they may have read the store before the
        change."""
        self._cache = {d: (account, 0.0, stored) for d, (account, _, stored) in self._cache.items()}
        self._lookups.clear()
        self._generation += 1

    async def create_key(self, *, account_id: str) -> str:
        key = generate_key()
        await self._store.add_api_key(
            account_id=account_id,
            key_hash=await asyncio.to_thread(hash_key, key),
            prefix=display_prefix(key),
            now=time.time(),
        )
        return key
