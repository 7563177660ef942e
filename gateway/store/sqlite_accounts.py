"""Accounts, keys, numbers, stored routes, usage and the config version on SQLite: a mixin of
`SqliteStore`, using its writer and reader threads. Every admin write bumps the config version
in its own transaction, so the other nodes reload what changed."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from gateway.domain import SmppCredential
from gateway.domain.accounts import (
    AccountSettings,
    ApiKeyInfo,
    InboundNumber,
    StoredRoute,
    Usage,
    month_start,
)
from gateway.domain.errors import AccountExists
from gateway.store import accounts_sql as q
from gateway.store import sql

T = TypeVar("T")


class SqliteAccountsMixin:
    if TYPE_CHECKING:

        async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...
        async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...

    async def get_account_settings(self, account: str) -> AccountSettings | None:
        row = await self._read(lambda c: c.execute(q.SELECT_ACCOUNT, (account, account)).fetchone())
        return None if row is None else q.account_settings(row)

    async def list_account_settings(self) -> list[AccountSettings]:
        rows = await self._read(lambda c: c.execute(q.SELECT_ACCOUNTS).fetchall())
        return [q.account_settings(r) for r in rows]

    async def insert_account(self, settings: AccountSettings) -> None:
        def run(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(q.INSERT_ACCOUNT, q.account_row(settings))
            except sqlite3.IntegrityError:
                raise AccountExists(f"an account named {settings.name!r} exists") from None
            conn.execute(q.BUMP_VERSION)

        await self._write(run)

    async def update_account(self, settings: AccountSettings) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            try:
                changed = conn.execute(q.UPDATE_ACCOUNT, q.account_update_row(settings)).rowcount
            except sqlite3.IntegrityError:
                raise AccountExists(f"an account named {settings.name!r} exists") from None
            conn.execute(q.BUMP_VERSION)
            return bool(changed)

        return await self._write(run)

    async def list_api_keys(self, account_id: str) -> list[ApiKeyInfo]:
        rows = await self._read(lambda c: c.execute(q.SELECT_KEYS, (account_id,)).fetchall())
        return [q.key_info(r) for r in rows]

    async def revoke_api_keys(self, *, account_id: str, prefix: str, now: float) -> int:
        def run(conn: sqlite3.Connection) -> int:
            count = conn.execute(q.REVOKE_KEYS, (now, account_id, prefix)).rowcount
            conn.execute(q.BUMP_VERSION)
            return count

        return await self._write(run)

    async def list_smpp_credentials(self, account_id: str) -> list[SmppCredential]:
        rows = await self._read(lambda c: c.execute(q.SELECT_CREDENTIALS, (account_id,)).fetchall())
        return [sql.credential(r) for r in rows]

    async def delete_smpp_credential(self, *, account_id: str, system_id: str) -> bool:
        return await self._delete(q.DELETE_CREDENTIAL, (account_id, system_id))

    async def list_numbers(self, account_id: str) -> list[InboundNumber]:
        rows = await self._read(lambda c: c.execute(q.SELECT_NUMBERS, (account_id,)).fetchall())
        return [q.inbound_number(r) for r in rows]

    async def number_owner(self, number: str) -> str | None:
        row = await self._read(lambda c: c.execute(sql.ACCOUNT_FOR_NUMBER, (number,)).fetchone())
        return None if row is None else str(row[0])

    async def delete_number(self, *, account_id: str, number: str) -> bool:
        return await self._delete(q.DELETE_NUMBER, (account_id, number))

    async def list_stored_routes(self) -> list[StoredRoute]:
        rows = await self._read(lambda c: c.execute(q.SELECT_ROUTES).fetchall())
        return [q.stored_route(r) for r in rows]

    async def put_route(self, route: StoredRoute) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute(q.UPSERT_ROUTE, (route.name, route.position, route.rule, route.updated_at))
            conn.execute(q.BUMP_VERSION)

        await self._write(run)

    async def delete_route(self, name: str) -> bool:
        return await self._delete(q.DELETE_ROUTE, (name,))

    async def config_version(self) -> int:
        row = await self._read(lambda c: c.execute(q.SELECT_VERSION).fetchone())
        return 0 if row is None else int(row[0])

    async def bump_config_version(self) -> None:
        await self._write(lambda c: c.execute(q.BUMP_VERSION))

    async def account_usage(self, *, day: str, limited_only: bool = False) -> dict[str, Usage]:
        statement = q.SELECT_LIMITED_USAGE if limited_only else q.SELECT_USAGE
        rows = await self._read(lambda c: c.execute(statement, (day, month_start(day))).fetchall())
        return {r[0]: Usage(int(r[1] or 0), float(r[2] or 0.0)) for r in rows}

    async def _delete(self, statement: str, args: tuple[str, ...]) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            deleted = conn.execute(statement, args).rowcount
            if deleted:
                conn.execute(q.BUMP_VERSION)
            return bool(deleted)

        return await self._write(run)
