"""PostgreSQL's batch writes over unnest() arrays (gateway.store.postgres_arrays) on the
gateway's own schema: they leave the tables exactly as the one-row statements run row by row
in order would, and their array types are the columns' types. Their plans are checked in
test_postgres_batch_plans.py.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import asyncpg
import pytest

from gateway.store import postgres_arrays, sql
from gateway.store.postgres import (
    _ARRAY_TYPES,
    _INSERT_MESSAGES,
    _INSERT_OUTBOX_RECEIPTS,
    _INSERT_PARTS,
    _UPDATE_MESSAGES,
    _UPDATE_PARTS,
    PostgresStore,
)
from tests.integration.test_multirow_writes import _message, _part, random_updates

Rows = list[tuple[object, ...]]


@pytest.fixture
async def conn(postgres_dsn: str, pg_schema: str) -> AsyncIterator[asyncpg.Connection]:
    store = PostgresStore(postgres_dsn, schema=pg_schema)
    await store.open()
    await store.migrate()
    await store.close()
    connection = await asyncpg.connect(postgres_dsn, server_settings={"search_path": pg_schema})
    await connection.execute(
        "INSERT INTO accounts (id, name, created_at) VALUES ('acct', 'acct', 0)"
    )
    try:
        yield connection
    finally:
        await connection.close()


async def _dump(conn: asyncpg.Connection) -> tuple[Rows, Rows]:
    return (
        [tuple(r) for r in await conn.fetch("SELECT * FROM messages ORDER BY id")],
        [tuple(r) for r in await conn.fetch("SELECT * FROM parts ORDER BY message_id, seq")],
    )


@pytest.mark.parametrize("size", [1, 7, 40, 300])
async def test_array_updates_equal_one_row_per_statement_in_order(
    conn: asyncpg.Connection, size: int
) -> None:
    messages = [_message(i) for i in range(6)]
    parts = [_part(i, seq) for i in range(6) for seq in (1, 2)]
    rng = random.Random(size)
    for _ in range(6):
        part_updates, message_updates = random_updates(rng, size)
        results = []
        for row_wise in (True, False):
            transaction = conn.transaction()
            await transaction.start()
            if row_wise:
                for statement, rows in (
                    (sql.INSERT_MESSAGE, messages),
                    (sql.INSERT_PART, parts),
                    (sql.UPDATE_PART, part_updates),
                    (sql.UPDATE_MESSAGE, message_updates),
                ):
                    await conn.executemany(sql.numbered(statement), rows)
            else:
                await conn.execute(postgres_arrays.INDEX_PROBES)
                await postgres_arrays.execute(conn, _INSERT_MESSAGES, messages)
                await postgres_arrays.execute(conn, _INSERT_PARTS, parts)
                await postgres_arrays.execute_updates(
                    conn, _UPDATE_PARTS, part_updates, sql.part_update_key
                )
                await postgres_arrays.execute_updates(
                    conn, _UPDATE_MESSAGES, message_updates, sql.message_update_key
                )
            results.append(await _dump(conn))
            await transaction.rollback()
        assert results[1] == results[0]


async def test_array_inserts_skip_conflicts_within_the_batch(conn: asyncpg.Connection) -> None:
    messages = [_message(i) for i in range(50)]
    parts = [_part(i, seq) for i in range(50) for seq in (1, 2, 1)]  # each part twice
    await postgres_arrays.execute(conn, _INSERT_MESSAGES, messages)
    await postgres_arrays.execute(conn, _INSERT_PARTS, parts)
    stored = await _dump(conn)
    assert len(stored[0]) == 50 and len(stored[1]) == 100
    assert stored[0][0][:3] == messages[0][:3] and stored[1][0][5] == parts[0][5]  # bytea kept


async def test_array_types_are_the_columns_types(conn: asyncpg.Connection) -> None:
    declared = await conn.fetch(
        "SELECT table_name, column_name, udt_name FROM information_schema.columns"
        " WHERE table_schema = current_schema()"
        " AND table_name IN ('messages', 'parts', 'smpp_outbox')"
    )
    columns = {(r["table_name"], r["column_name"]): r["udt_name"] for r in declared}
    for statement, table in (
        (_INSERT_MESSAGES, "messages"),
        (_INSERT_PARTS, "parts"),
        (_INSERT_OUTBOX_RECEIPTS, "smpp_outbox"),
        (_UPDATE_PARTS, "parts"),
        (_UPDATE_MESSAGES, "messages"),
    ):
        used = [c for c in _ARRAY_TYPES if f"u.{c}" in statement]
        assert used, statement
        for column in used:
            if (table, column) in columns:  # rank_below is a guard, not a column
                assert columns[(table, column)] == _ARRAY_TYPES[column], (table, column)
