"""Connectors managed through the admin API on PostgreSQL: a mixin `PostgresStore` inherits."""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg

from gateway.domain.accounts import StoredConnector
from gateway.domain.errors import ConnectorExists
from gateway.store import connectors_sql as q
from gateway.store.accounts_sql import BUMP_VERSION
from gateway.store.sql import numbered

_SELECT_CONNECTOR = numbered(q.SELECT_CONNECTOR)
_INSERT_CONNECTOR = numbered(q.INSERT_CONNECTOR)
_UPSERT_CONNECTOR = numbered(q.UPSERT_CONNECTOR)
_DELETE_CONNECTOR = numbered(q.DELETE_CONNECTOR)


class PostgresConnectors:
    if TYPE_CHECKING:

        @property
        def pool(self) -> asyncpg.Pool: ...

    async def list_stored_connectors(self) -> list[StoredConnector]:
        return [q.stored_connector(r) for r in await self.pool.fetch(q.SELECT_CONNECTORS)]

    async def get_stored_connector(self, name: str) -> StoredConnector | None:
        row = await self.pool.fetchrow(_SELECT_CONNECTOR, name)
        return None if row is None else q.stored_connector(row)

    async def insert_connector(self, connector: StoredConnector) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            try:
                await conn.execute(_INSERT_CONNECTOR, *q.connector_row(connector))
            except asyncpg.UniqueViolationError:
                raise ConnectorExists(f"a connector named {connector.name!r} exists") from None
            await conn.execute(BUMP_VERSION)

    async def put_connector(self, connector: StoredConnector) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(_UPSERT_CONNECTOR, *q.connector_row(connector))
            await conn.execute(BUMP_VERSION)

    async def delete_connector(self, name: str) -> bool:
        async with self.pool.acquire() as conn, conn.transaction():
            status: str = await conn.execute(_DELETE_CONNECTOR, name)
            if status.rsplit(maxsplit=1)[-1] == "0":
                return False
            await conn.execute(BUMP_VERSION)
            return True
