"""API keys: generation, hashing, and an account lookup cache.

A key is 256 random bits, so a single SHA-256 is enough to store it safely (a slow hash protects
guessable secrets such as passwords; nothing guesses 2^256). The plain key is shown once at
creation. Verified keys are cached for a short time so a request costs no store read; a revoked
key stops working within that time on every node.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable

from gateway.domain import Account
from gateway.store import Store

KEY_PREFIX = "gw_"


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def display_prefix(key: str) -> str:
    return key[: len(KEY_PREFIX) + 6]


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
        self._cache: dict[str, tuple[Account | None, float]] = {}

    async def authenticate(self, key: str) -> Account | None:
        digest = hash_key(key)
        now = self._clock()
        cached = self._cache.get(digest)
        if cached is not None and cached[1] > now:
            return cached[0]
        account = await self._store.account_for_key(digest)
        if account is not None and not account.active:
            account = None
        if len(self._cache) >= self._max:
            self._cache.clear()  # crude but bounded; the store is the source of truth
        self._cache[digest] = (account, now + self._ttl)
        return account

    def cached(self, key: str) -> Account | None:
        """The account of `key` if it was verified recently (no store read), else None."""
        entry = self._cache.get(hash_key(key))
        if entry is None or entry[1] <= self._clock():
            return None
        return entry[0]

    def forget(self) -> None:
        """Drop every cached answer: an admin change (a revoked key, a suspended account) was
        made, and the store says what holds now."""
        self._cache.clear()

    async def create_key(self, *, account_id: str) -> str:
        key = generate_key()
        await self._store.add_api_key(
            account_id=account_id,
            key_hash=hash_key(key),
            prefix=display_prefix(key),
            now=time.time(),
        )
        return key
