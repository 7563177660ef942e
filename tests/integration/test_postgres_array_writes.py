"""PostgreSQL's batch writes over unnest() arrays (gateway.store.postgres_arrays) on the
gateway's own schema: they leave the tables exactly as the one-row statements run row by row
in order would, their array types are the columns' types, and within `INDEX_PROBES` an UPDATE
finds its rows through the primary key however large the table and whatever plan was cached.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Sequence

import asyncpg
import pytest

from gateway.store import postgres_arrays, sql
from gateway.store.postgres import (
    _ARRAY_TYPES,
    _DELETE_OUTBOX,
    _INSERT_MESSAGES,
    _INSERT_OUTBOX_RECEIPTS,
    _INSERT_PARTS,
    _MESSAGES_BY_IDS,
    _PARTS_BY_MESSAGE_IDS,
    _PARTS_BY_UPSTREAM_IDS,
    _RELEASE_OUTBOX,
    _UPDATE_MESSAGES,
    _UPDATE_PARTS,
    PostgresStore,
)
from tests.integration.test_multirow_writes import (
    STATUSES,
    _message,
    _message_update,
    _part,
    _part_update,
)

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
    for _ in range(6):  # batches with many repeats of the same parts, in random orders
        batch = [
            (rng.randrange(6), rng.randint(1, 2), rng.choice(STATUSES), rng.uniform(2000, 3000),
             rng.choice([None, "up-1", "up-2"]))
            for _ in range(size)
        ]  # fmt: skip
        part_updates = [_part_update(*u) for u in batch]
        message_updates = [_message_update(i, status, at) for i, _, status, at, _ in batch]
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


async def _fill(conn: asyncpg.Connection, first: int, last: int) -> None:
    await conn.execute(
        """
        INSERT INTO messages (id, account_id, source, destination, body, encoding, segments,
            message_type, registered_delivery, status, status_rank, created_at, updated_at)
        SELECT 'm' || i, 'acct', 'Acme', '+4915112345678', 'hello', 'gsm7', 1,
            'transactional', false, 'queued', 2, 0, 0
        FROM generate_series($1::int, $2::int) AS i
        """,
        first,
        last,
    )
    await conn.execute(
        """
        INSERT INTO parts (message_id, seq, total, encoding, data_coding, udh, payload,
            connector, priority, status, status_rank, due_at, updated_at, upstream_id)
        SELECT 'm' || i, 0, 1, 'gsm7', 0, '', 'hello', 'c', 1, 'submitted', 4, 0, 0, 'u' || i
        FROM generate_series($1::int, $2::int) AS i
        """,
        first,
        last,
    )
    await conn.execute(
        """
        INSERT INTO smpp_outbox (id, system_id, kind, message_id, seq, source, destination,
            created_at, expires_at)
        SELECT i, 'esme', 'receipt', 'm' || i, 0, 'a', 'b', 0, 1
        FROM generate_series($1::int, $2::int) AS i
        """,
        first,
        last,
    )


def _nodes(plan: object) -> list[tuple[str, str]]:
    """(node type, relation or "") of every node of an EXPLAIN (FORMAT JSON) plan."""
    found: list[tuple[str, str]] = []
    stack = [plan]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "Node Type" in node:
                found.append((node["Node Type"], node.get("Relation Name", "")))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


_PROBES = ("Index Scan", "Index Only Scan", "Bitmap Heap Scan")  # by the key, per key


def _params(keys: Sequence[int], width: int, key_at: int, key: str) -> list[object]:
    """A batch's arrays: at `key_at` the keys, `key` formatted with each number ("{}": the
    number itself, for an integer key), NULL in every other array."""
    rows = []
    for number in keys:
        row: list[object] = [None] * width
        row[key_at] = number if key == "{}" else key.format(number)
        rows.append(row)
    return list(postgres_arrays.columns(rows))


@pytest.mark.parametrize(
    ("statement", "table", "width", "key_at", "key", "lead"),
    [
        (_UPDATE_PARTS, "parts", 14, 11, "m{}", ()),
        (_UPDATE_MESSAGES, "messages", 9, 7, "m{}", ()),
        (_MESSAGES_BY_IDS, "messages", 1, 0, "m{}", ()),
        (_PARTS_BY_MESSAGE_IDS, "parts", 1, 0, "m{}", ()),
        (_PARTS_BY_UPSTREAM_IDS, "parts", 1, 0, "u{}", ("c",)),
        (_DELETE_OUTBOX, "smpp_outbox", 1, 0, "{}", ()),
        (_RELEASE_OUTBOX, "smpp_outbox", 1, 0, "{}", ()),
    ],
)
@pytest.mark.parametrize("analyzed", [False, True])
async def test_batches_probe_the_index_on_a_large_table(
    conn: asyncpg.Connection,
    statement: str,
    table: str,
    width: int,
    key_at: int,
    key: str,
    lead: tuple[object, ...],
    analyzed: bool,
) -> None:
    """Without INDEX_PROBES the planner read the whole table for 200 keys against 30,000 rows
    (a hash join), statistics or none; with it, one probe per key, also for a statement whose
    plan was cached while the table was nearly empty. Without statistics (autovacuum off),
    finding parts by their carrier's ids read every part of the connector too."""
    await _fill(conn, 1, 20)
    prepared = await conn.prepare(statement)
    for _ in range(6):  # after five custom plans PostgreSQL may settle on a generic one
        async with conn.transaction():
            await prepared.fetch(*lead, *_params([1, 2, 3], width, key_at, key))
    await _fill(conn, 21, 30_000)
    if analyzed:
        await conn.execute("ANALYZE")
    keys = range(1, 30_000, 150)
    async with conn.transaction():
        await conn.execute(postgres_arrays.INDEX_PROBES)
        plan = await prepared.explain(*lead, *_params(keys, width, key_at, key))
    nodes = _nodes(plan)
    scans = [kind for kind, relation in nodes if relation == table and kind != "ModifyTable"]
    assert scans and all(kind in _PROBES for kind in scans), nodes
    assert not any(kind.startswith(("Hash", "Merge")) for kind, _ in nodes), nodes
