"""Helpers for tests that watch PostgreSQL row locks between two transactions."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import asyncpg

from gateway.domain import new_id
from gateway.store import Store, open_store


@contextlib.asynccontextmanager
async def account_in_store(
    dsn: str, schema: str, *, now: float
) -> AsyncIterator[tuple[Store, str]]:
    """A migrated store in `schema` with one account; the store and the account's id."""
    store = open_store(dsn, schema=schema)
    await store.open()
    try:
        await store.migrate()
        account_id = new_id()
        await store.create_account(account_id=account_id, name="acme", now=now)
        yield store, account_id
    finally:
        await store.close()


@contextlib.asynccontextmanager
async def two_sessions(
    dsn: str, schema: str
) -> AsyncIterator[tuple[asyncpg.Connection, asyncpg.Connection]]:
    """Two connections to `schema` that give up on a lock after 2 s (LockNotAvailableError)
    instead of waiting: a test can show that one transaction would block the other."""
    settings = {"search_path": schema, "lock_timeout": "2s"}
    first = await asyncpg.connect(dsn, server_settings=settings)
    try:
        second = await asyncpg.connect(dsn, server_settings=settings)
        try:
            yield first, second
        finally:
            await second.close()
    finally:
        await first.close()
