"""Connectors managed through the admin API on SQLite: a mixin `SqliteStore` inherits."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from gateway.domain.accounts import StoredConnector
from gateway.domain.errors import ConnectorExists
from gateway.store import connectors_sql as q
from gateway.store.accounts_sql import BUMP_VERSION

T = TypeVar("T")


class SqliteConnectors:
    if TYPE_CHECKING:

        async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...
        async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...

    async def list_stored_connectors(self) -> list[StoredConnector]:
        rows = await self._read(lambda c: c.execute(q.SELECT_CONNECTORS).fetchall())
        return [q.stored_connector(r) for r in rows]

    async def get_stored_connector(self, name: str) -> StoredConnector | None:
        row = await self._read(lambda c: c.execute(q.SELECT_CONNECTOR, (name,)).fetchone())
        return None if row is None else q.stored_connector(row)

    async def insert_connector(self, connector: StoredConnector) -> None:
        def run(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(q.INSERT_CONNECTOR, q.connector_row(connector))
            except sqlite3.IntegrityError:
                raise ConnectorExists(f"a connector named {connector.name!r} exists") from None
            conn.execute(BUMP_VERSION)

        await self._write(run)

    async def put_connector(self, connector: StoredConnector) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute(q.UPSERT_CONNECTOR, q.connector_row(connector))
            conn.execute(BUMP_VERSION)

        await self._write(run)

    async def delete_connector(self, name: str) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            if not conn.execute(q.DELETE_CONNECTOR, (name,)).rowcount:
                return False
            conn.execute(BUMP_VERSION)
            return True

        return await self._write(run)
