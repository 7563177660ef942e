"""Durable storage: one `Store` protocol, an embedded SQLite and a production PostgreSQL store."""

from __future__ import annotations

from gateway.store.base import ParkedReceipt, Store

__all__ = ["ParkedReceipt", "Store", "open_store", "sqlite_path"]


def sqlite_path(database_url: str) -> str:
    """The file an `sqlite:///` URL names; ValueError for one that names no file."""
    # As in SQLAlchemy: sqlite:///data/x.db is relative, sqlite:////var/x.db absolute.
    if not database_url.startswith("sqlite:///"):
        raise ValueError("an SQLite URL has three slashes: sqlite:///path/to/file.db")
    path = database_url.removeprefix("sqlite:///")
    if path in ("", ":memory:"):
        # The writer and the reader are two connections: each would get a database of its
        # own, and the reader would find no tables.
        raise ValueError("an SQLite store needs a file: sqlite:///path/to/file.db")
    return path


def open_store(
    database_url: str,
    *,
    schema: str | None = None,
    sqlite_synchronous: str = "FULL",
    usage_shard: int = 0,
) -> Store:
    """Build the store a database URL names: `sqlite:///path` or `postgresql://...`.
    `usage_shard`: the account_usage_shards rows this node's intake adds to (`usage_shard()`)."""
    if database_url.startswith("sqlite:"):
        from gateway.store.sqlite import SqliteStore

        return SqliteStore(
            sqlite_path(database_url), synchronous=sqlite_synchronous, usage_shard=usage_shard
        )
    if database_url.startswith(("postgresql:", "postgres:")):
        from gateway.store.postgres import PostgresStore

        return PostgresStore(database_url, schema=schema, usage_shard=usage_shard)
    raise ValueError(f"unsupported database URL scheme: {database_url.split(':', 1)[0]!r}")
