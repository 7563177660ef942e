"""Accounts, keys, numbers, stored routes, usage and the config version on PostgreSQL: a mixin of
`PostgresStore`, using its pool. Every admin write bumps the config version in its own
transaction, so the other nodes reload what changed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import asyncpg

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

_N = sql.numbered


class PostgresAccountsMixin:
    if TYPE_CHECKING:

        @property
        def pool(self) -> asyncpg.Pool: ...

    async def get_account_settings(self, account: str) -> AccountSettings | None:
        row = await self.pool.fetchrow(_N(q.SELECT_ACCOUNT), account, account)
        return None if row is None else q.account_settings(row)

    async def list_account_settings(self) -> list[AccountSettings]:
        return [q.account_settings(r) for r in await self.pool.fetch(q.SELECT_ACCOUNTS)]

    async def insert_account(self, settings: AccountSettings) -> None:
        try:
            await self._execute_and_bump(q.INSERT_ACCOUNT, *q.account_row(settings))
        except asyncpg.UniqueViolationError:
            raise AccountExists(f"an account named {settings.name!r} exists") from None

    async def update_account(self, settings: AccountSettings) -> bool:
        try:
            status = await self._execute_and_bump(q.UPDATE_ACCOUNT, *q.account_update_row(settings))
        except asyncpg.UniqueViolationError:
            raise AccountExists(f"an account named {settings.name!r} exists") from None
        return _count(status) > 0

    async def list_api_keys(self, account_id: str) -> list[ApiKeyInfo]:
        return [q.key_info(r) for r in await self.pool.fetch(_N(q.SELECT_KEYS), account_id)]

    async def revoke_api_keys(self, *, account_id: str, prefix: str, now: float) -> int:
        return _count(await self._execute_and_bump(q.REVOKE_KEYS, now, account_id, prefix))

    async def list_smpp_credentials(self, account_id: str) -> list[SmppCredential]:
        rows = await self.pool.fetch(_N(q.SELECT_CREDENTIALS), account_id)
        return [sql.credential(r) for r in rows]

    async def delete_smpp_credential(self, *, account_id: str, system_id: str) -> bool:
        return await self._delete(q.DELETE_CREDENTIAL, account_id, system_id)

    async def list_numbers(self, account_id: str) -> list[InboundNumber]:
        return [
            q.inbound_number(r) for r in await self.pool.fetch(_N(q.SELECT_NUMBERS), account_id)
        ]

    async def number_owner(self, number: str) -> str | None:
        owner = await self.pool.fetchval(_N(sql.ACCOUNT_FOR_NUMBER), number)
        return None if owner is None else str(owner)

    async def delete_number(self, *, account_id: str, number: str) -> bool:
        return await self._delete(q.DELETE_NUMBER, account_id, number)

    async def list_stored_routes(self) -> list[StoredRoute]:
        return [q.stored_route(r) for r in await self.pool.fetch(q.SELECT_ROUTES)]

    async def put_route(self, route: StoredRoute) -> None:
        await self._execute_and_bump(
            q.UPSERT_ROUTE, route.name, route.position, route.rule, route.updated_at
        )

    async def delete_route(self, name: str) -> bool:
        return await self._delete(q.DELETE_ROUTE, name)

    async def config_version(self) -> int:
        version = await self.pool.fetchval(q.SELECT_VERSION)
        return 0 if version is None else int(version)

    async def bump_config_version(self) -> None:
        await self.pool.execute(q.BUMP_VERSION)

    async def account_usage(self, *, day: str, limited_only: bool = False) -> dict[str, Usage]:
        statement = q.SELECT_LIMITED_USAGE if limited_only else q.SELECT_USAGE
        rows = await self.pool.fetch(_N(statement), day, month_start(day))
        return {r[0]: Usage(int(r[1] or 0), float(r[2] or 0.0)) for r in rows}

    async def _execute_and_bump(self, statement: str, *args: Any) -> str:
        async with self.pool.acquire() as conn, conn.transaction():
            status: str = await conn.execute(_N(statement), *args)
            await conn.execute(q.BUMP_VERSION)
        return status

    async def _delete(self, statement: str, *args: Any) -> bool:
        async with self.pool.acquire() as conn, conn.transaction():
            deleted = _count(await conn.execute(_N(statement), *args))
            if deleted:
                await conn.execute(q.BUMP_VERSION)
        return deleted > 0


def _count(status: str) -> int:
    """Rows affected, from asyncpg's command tag ("UPDATE 3")."""
    last = status.rsplit(maxsplit=1)[-1] if status else ""
    return int(last) if last.isdigit() else 0
