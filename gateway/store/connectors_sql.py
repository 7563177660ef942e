"""SQL for the connectors managed through the admin API, shared by both dialects (`?`
placeholders; PostgreSQL gets `$n` through `sql.numbered`). Writes bump the config version in
the same transaction (`accounts_sql.BUMP_VERSION`)."""

from __future__ import annotations

from gateway.domain.accounts import StoredConnector
from gateway.store.sql import Row

COLUMNS = "name, source, kind, options, rate, enabled, created_at, updated_at"
SELECT_CONNECTORS = f"SELECT {COLUMNS} FROM connectors ORDER BY name"
SELECT_CONNECTOR = f"SELECT {COLUMNS} FROM connectors WHERE name = ?"
INSERT_CONNECTOR = f"INSERT INTO connectors ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
UPSERT_CONNECTOR = f"""
INSERT INTO connectors ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (name) DO UPDATE SET source = excluded.source, kind = excluded.kind,
    options = excluded.options, rate = excluded.rate, enabled = excluded.enabled,
    updated_at = excluded.updated_at
"""
DELETE_CONNECTOR = "DELETE FROM connectors WHERE name = ?"


def stored_connector(r: Row) -> StoredConnector:
    return StoredConnector(
        name=r[0],
        source=r[1],
        kind=r[2],
        options=r[3],
        rate=float(r[4]),
        enabled=bool(r[5]),
        created_at=float(r[6]),
        updated_at=float(r[7]),
    )


def connector_row(c: StoredConnector) -> tuple[object, ...]:
    return (c.name, c.source, c.kind, c.options, c.rate, c.enabled, c.created_at, c.updated_at)
