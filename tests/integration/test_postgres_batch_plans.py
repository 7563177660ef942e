"""PostgreSQL reads rows by a batch of keys through their index even without statistics.

Found under SMPP load on a machine with autovacuum off: `id = ANY(<2,000 ids>)` planned as a
sequential scan filtering every row, dead versions included, so the status writer's read-back
grew with the tables to seconds and ESME receipts fell minutes behind. The batch statements
join unnest() instead; this checks their plans on tables nobody has analyzed.

Joined, the planner still read the whole table with a hash join, statistics or none, for 200
keys against 30,000 rows; in a transaction with `postgres_arrays.INDEX_PROBES` every batch
statement probes an index per key.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence

import pytest

from gateway.store import open_store, postgres_arrays
from gateway.store.postgres import (
    _CLAIM_OUTBOX,
    _DELETE_OUTBOX,
    _MESSAGES_BY_IDS,
    _PARTS_BY_MESSAGE_IDS,
    _PARTS_BY_UPSTREAM_IDS,
    _RELEASE_OUTBOX,
    _UPDATE_MESSAGES,
    _UPDATE_PARTS,
    PostgresStore,
)

ROWS = 30_000


async def _fill(conn: postgres_arrays.Connection, first: int, last: int) -> None:
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


# (statement, its table, its arrays, which one holds the key, key format, leading parameters)
_BATCHES = [
    (_UPDATE_PARTS, "parts", 14, 11, "m{}", ()),
    (_UPDATE_MESSAGES, "messages", 9, 7, "m{}", ()),
    (_MESSAGES_BY_IDS, "messages", 1, 0, "m{}", ()),
    (_PARTS_BY_MESSAGE_IDS, "parts", 1, 0, "m{}", ()),
    (_PARTS_BY_UPSTREAM_IDS, "parts", 1, 0, "u{}", ("c",)),
    (_DELETE_OUTBOX, "smpp_outbox", 1, 0, "{}", ()),
    (_RELEASE_OUTBOX, "smpp_outbox", 1, 0, "{}", ()),
]


@pytest.mark.parametrize("analyzed", [False, True])
async def test_batches_probe_the_index_on_a_large_table(
    store: PostgresStore, analyzed: bool
) -> None:
    """Without INDEX_PROBES the planner read the whole table for 200 keys against 30,000 rows
    (a hash join), statistics or none; with it, one probe per key, also for a statement whose
    plan was cached while the table was nearly empty. Without statistics (autovacuum off),
    finding parts by their carrier's ids read every part of the connector too."""
    async with store.pool.acquire() as conn:
        await _fill(conn, 1, 20)
        prepared = [await conn.prepare(batch[0]) for batch in _BATCHES]
        for statement, (_, _, width, key_at, key, lead) in zip(prepared, _BATCHES, strict=True):
            for _ in range(6):  # after five custom plans PostgreSQL may settle on a generic one
                async with conn.transaction():
                    await statement.fetch(*lead, *_params([1, 2, 3], width, key_at, key))
        await _fill(conn, 21, ROWS)
        if analyzed:
            await conn.execute("ANALYZE")
        refused = []
        for statement, (text, table, width, key_at, key, lead) in zip(
            prepared, _BATCHES, strict=True
        ):
            async with conn.transaction():
                await conn.execute(postgres_arrays.INDEX_PROBES)
                keys = _params(range(1, ROWS, 150), width, key_at, key)
                nodes = _nodes(await statement.explain(*lead, *keys))
            scans = [kind for kind, rel in nodes if rel == table and kind != "ModifyTable"]
            probes = bool(scans) and all(kind in _PROBES for kind in scans)
            if not probes or any(kind.startswith(("Hash", "Merge")) for kind, _ in nodes):
                refused.append((text.split()[:3], nodes))
    assert refused == []


@pytest.mark.parametrize("analyzed", [False, True])
async def test_an_outbox_claim_updates_its_rows_by_key(
    store: PostgresStore, analyzed: bool
) -> None:
    """Written as a CTE joined to the UPDATE, the claim hashed its batch and read the whole
    outbox, rows held leased in memory included, on every claim: planned so for an outbox of
    a few thousand rows, what a busy node holds."""
    async with store.pool.acquire() as conn:
        await _fill(conn, 1, 3000)
        if analyzed:
            await conn.execute("ANALYZE")
        plan = await conn.fetchval(
            f"EXPLAIN (FORMAT JSON) {_CLAIM_OUTBOX}", ["esme"], 0.5, 200, "n", 30.0
        )
        options = await conn.fetchval(
            "SELECT reloptions FROM pg_class WHERE oid = 'smpp_outbox'::regclass"
        )
    nodes = _nodes(json.loads(plan))
    assert ("Seq Scan", "smpp_outbox") not in nodes, nodes
    assert not any(kind.startswith(("Hash", "Merge")) for kind, _ in nodes), nodes
    # Room on each page: the claim's update stays on its page, without new index entries.
    assert "fillfactor=70" in options


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
