"""Suppression lists and opt-out settings on PostgreSQL: a mixin `PostgresStore` inherits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from gateway.domain import InboundRecord
from gateway.domain.optout import OptOutSettings, Suppression
from gateway.store import optout_sql as q
from gateway.store.sql import numbered

_UPSERT_SUPPRESSION = numbered(q.UPSERT_SUPPRESSION)
_DELETE_SUPPRESSION = numbered(q.DELETE_SUPPRESSION)
_BUMP_VERSION = numbered(q.BUMP_VERSION)
_PUT_SETTINGS = numbered(q.PUT_SETTINGS)
_SELECT_VERSION = numbered(q.SELECT_VERSION)
_SELECT_STATE = numbered(q.SELECT_STATE)
_SELECT_NUMBERS = numbered(q.SELECT_NUMBERS)
_SELECT_SUPPRESSION = numbered(q.SELECT_SUPPRESSION)
_LIST_SUPPRESSIONS = numbered(q.LIST_SUPPRESSIONS)
_ACCOUNT_EXISTS = numbered(q.ACCOUNT_EXISTS)
# Joined to unnest() rather than filtered by `number = ANY($2)`: see _MESSAGES_BY_IDS in
# postgres.py for what a plan kept from a small table does to that filter.
_SUPPRESSED_AMONG = (
    "SELECT s.number FROM unnest($2::text[]) AS k(number)"
    " JOIN suppressions s ON s.account_id = $1 AND s.number = k.number"
)


class PostgresOptOut:
    if TYPE_CHECKING:

        @property
        def pool(self) -> asyncpg.Pool: ...

    async def add_suppressions(
        self,
        *,
        account_id: str,
        numbers: Sequence[str],
        reason: str | None,
        source: str,
        now: float,
    ) -> None:
        rows = [(account_id, n, reason, source, now) for n in numbers]
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.executemany(_UPSERT_SUPPRESSION, rows)
            await conn.execute(_BUMP_VERSION, account_id, now)

    async def remove_suppression(self, *, account_id: str, number: str, now: float) -> bool:
        async with self.pool.acquire() as conn, conn.transaction():
            status = await conn.execute(_DELETE_SUPPRESSION, account_id, number)
            if status.split()[-1] == "0":
                return False
            await conn.execute(_BUMP_VERSION, account_id, now)
            return True

    async def get_suppression(self, *, account_id: str, number: str) -> Suppression | None:
        row = await self.pool.fetchrow(_SELECT_SUPPRESSION, account_id, number)
        return None if row is None else q.suppression(row)

    async def list_suppressions(
        self, *, account_id: str, after: str, limit: int
    ) -> list[Suppression]:
        rows = await self.pool.fetch(_LIST_SUPPRESSIONS, account_id, after, limit)
        return [q.suppression(r) for r in rows]

    async def suppressed_among(self, *, account_id: str, numbers: Sequence[str]) -> set[str]:
        rows = await self.pool.fetch(_SUPPRESSED_AMONG, account_id, list(numbers))
        return {r[0] for r in rows}

    async def optout_version(self, account_id: str) -> int:
        version = await self.pool.fetchval(_SELECT_VERSION, account_id)
        return 0 if version is None else int(version)

    async def load_optout(
        self, *, account_id: str, max_numbers: int
    ) -> tuple[int, OptOutSettings | None, list[str] | None]:
        # REPEATABLE READ: the version read belongs to the list read.
        async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            state = await conn.fetchrow(_SELECT_STATE, account_id)
            if state is None:
                return 0, None, []
            rows = await conn.fetch(_SELECT_NUMBERS, account_id, max_numbers + 1)
        numbers = None if len(rows) > max_numbers else [r[0] for r in rows]
        return int(state[0]), q.settings_of(state[1]), numbers

    async def optout_settings(self, account_id: str) -> OptOutSettings | None:
        row = await self.pool.fetchrow(_SELECT_STATE, account_id)
        return None if row is None else q.settings_of(row[1])

    async def put_optout_settings(
        self, *, account_id: str, settings: OptOutSettings, now: float
    ) -> None:
        await self.pool.execute(_PUT_SETTINGS, account_id, settings.to_json(), now)

    async def account_exists(self, account_id: str) -> bool:
        return await self.pool.fetchval(_ACCOUNT_EXISTS, account_id) is not None


async def apply_inbound_keyword(
    conn: PoolConnectionProxy[asyncpg.Record], record: InboundRecord
) -> None:
    """Called by the store while it stores an MO, inside its transaction."""
    for statement, params in q.keyword_statements(record):
        await conn.execute(numbered(statement), *params)
