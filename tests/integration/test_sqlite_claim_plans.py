"""The dispatcher's claims on SQLite walk the queue index from its head, whatever the size of
the backlog behind it.

SQLite plans without statistics (nothing runs ANALYZE), and left to itself it read
`owner IS NULL` through the `parts_pending_owner` index: every unowned queued part, joined to its
message and sorted, to return the first thousand. With a million messages queued that took three
seconds per claim on the store's one writer thread, and REST intake waited behind it (p99 from
0.2 s to 1 s in `python -m benchmarks backlog`). They walk `parts_claimable`, which holds only the
queued parts no node holds: through `parts_pending` a claim first walked every part that other
nodes hold (28 ms per claim, on the event loop, with 200,000 held by a node that died). The plan
does not depend on how many rows there are, so a fresh store shows it.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from gateway.store import open_store, sql


def _plan(path: Path, query: str, params: tuple[object, ...]) -> str:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("EXPLAIN QUERY PLAN " + query, params).fetchall()
    finally:
        conn.close()
    return " | ".join(str(row[3]) for row in rows)


def _index_sql(path: Path, name: str) -> str:
    conn = sqlite3.connect(path)
    try:
        row = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).fetchone()
    finally:
        conn.close()
    return str(row[0])


async def _migrated(tmp_path: Path) -> Path:
    path = tmp_path / "store.db"
    store = open_store(f"sqlite:///{path}")
    await store.open()
    try:
        await store.migrate()
    finally:
        await store.close()
    return path


async def test_claim_reads_the_queue_in_index_order_and_stops_at_the_limit(tmp_path: Path) -> None:
    path = await _migrated(tmp_path)
    now = time.time()
    for query, params in (
        (sql.SELECT_DUE_PARTS, (now, 1000)),
        (sql.SELECT_DUE_PARTS_OF_PRIORITY, (now, 1, 1000)),
    ):
        plan = _plan(path, query, params)
        assert "USING INDEX parts_claimable " in plan + " ", plan
        # An index of the parts no node holds: a claim never walks past held ones.
        assert "owner IS NULL" in _index_sql(path, "parts_claimable")
        assert "parts_pending_owner" not in plan, plan
        # Sorting only ties of (priority, due_at), not the whole queue.
        assert "USE TEMP B-TREE FOR ORDER BY" not in plan, plan


async def test_validity_sweep_starts_from_expiring_messages(tmp_path: Path) -> None:
    path = await _migrated(tmp_path)
    plan = _plan(path, sql.SELECT_EXPIRED_PARTS_SQLITE, (time.time(), 1000))
    assert plan.startswith("SEARCH m USING INDEX messages_expiring"), plan
    assert "parts_pending_owner" not in plan, plan
