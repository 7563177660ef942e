"""PostgreSQL reads rows by a batch of keys through their index even without statistics.

Found under SMPP load on a machine with autovacuum off: `id = ANY(<2,000 ids>)` planned as a
sequential scan filtering every row, dead versions included, so the status writer's read-back
grew with the tables to seconds and ESME receipts fell minutes behind. The batch statements
join unnest() instead; this checks their plans on tables nobody has analyzed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from gateway.store import open_store
from gateway.store.postgres import _MESSAGES_BY_IDS, _PARTS_BY_MESSAGE_IDS, PostgresStore

ROWS = 30_000


async def _fill(conn: asyncpg.Connection, first: int, last: int) -> None:
    await conn.execute(
        """
        INSERT INTO messages (id, account_id, source, destination, body, encoding, segments,
            message_type, registered_delivery, status, status_rank, created_at, updated_at)
        SELECT 'm' || i, 'a', 'Acme', '+4915112345678', 'hello', 'gsm7', 1,
            'transactional', false, 'delivered', 90, 0, 0
        FROM generate_series($1::int, $2::int) AS i
        """,
        first,
        last,
    )
    await conn.execute(
        """
        INSERT INTO parts (message_id, seq, total, encoding, data_coding, udh, payload,
            connector, priority, status, status_rank, due_at, updated_at, upstream_id)
        SELECT 'm' || i, 0, 1, 'gsm7', 0, '', 'hello', 'c', 1, 'delivered', 90, 0, 0, 'u' || i
        FROM generate_series($1::int, $2::int) AS i
        """,
        first,
        last,
    )


@pytest.fixture
async def store(postgres_dsn: str, pg_schema: str) -> AsyncIterator[PostgresStore]:
    store = open_store(postgres_dsn, schema=pg_schema)
    assert isinstance(store, PostgresStore)
    await store.open()
    await store.migrate()
    async with store.pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO accounts (id, name, created_at, active) VALUES ('a', 'a', 0, true)"
        )
    try:
        yield store
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("statement", "table"), [(_MESSAGES_BY_IDS, "messages"), (_PARTS_BY_MESSAGE_IDS, "parts")]
)
async def test_a_plan_cached_on_a_small_table_stays_fit_for_a_large_one(
    store: PostgresStore, statement: str, table: str
) -> None:
    """The trap: a prepared statement planned while the table was nearly empty keeps that
    plan (no ANALYZE ever invalidates it); `= ANY($1)` then filters every row against every
    key, O(rows x keys). The joined form costs O(rows + keys) at worst."""
    async with store.pool.acquire() as conn:
        await _fill(conn, 1, 20)
        await conn.execute(f"PREPARE batch(text[]) AS {statement}")
        for _ in range(6):  # after five custom plans PostgreSQL settles on a generic one
            await conn.execute("EXECUTE batch('{m1,m2,m3}')")
        await _fill(conn, 21, ROWS)
        await conn.execute(f"UPDATE {table} SET updated_at = 1")  # dead versions, as in use
        keys = "{" + ",".join(f"m{i}" for i in range(1, ROWS, ROWS // 2000)) + "}"
        plan = "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN EXECUTE batch('{keys}')"))
        assert "ANY" not in plan, plan
        rows = await conn.fetch(f"EXECUTE batch('{keys}')")
        assert len(rows) == keys.count(",") + 1
        await conn.execute("DEALLOCATE batch")


async def test_receipt_lookup_by_upstream_ids(store: PostgresStore) -> None:
    async with store.pool.acquire() as conn:
        await _fill(conn, 1, 3000)
    wanted = [f"u{i}" for i in range(1, 3000, 3)]
    found = await store.find_parts_by_upstream_ids("c", [*wanted, "unknown"])
    assert len(found) == len(wanted) and found["u1"].message_id == "m1"


async def test_a_server_without_autovacuum_is_reported_at_start(store: PostgresStore) -> None:
    """The plans above assume a table may never be analyzed; the operator should still hear of
    it. This machine's PostgreSQL may run either way: the warning follows its setting."""
    autovacuum = await store.pool.fetchval("SHOW autovacuum")
    warnings = await store.maintenance_warnings()
    if autovacuum == "on":
        assert warnings == []
    else:
        assert len(warnings) == 1 and "autovacuum off" in warnings[0]
