"""SQLite's multi-row statements (gateway.store.multirow) leave the tables exactly as the
one-row statements run row by row in order would, on the gateway's own schema: inserts of every
chunk size that conflict with rows inserted earlier in the same statement, and updates with the
same part updated twice in one batch (a submit response and its receipt), some of which the rank
guard refuses.

Each case runs both ways inside a transaction that is rolled back, and the tables are compared.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.domain import Status
from gateway.store import multirow, sql
from gateway.store.sqlite import SqliteStore

Rows = list[tuple[object, ...]]
STATUSES = [Status.SUBMITTED, Status.DELIVERED, Status.UNDELIVERED, Status.EXPIRED]


def _dump(conn: sqlite3.Connection) -> tuple[Rows, Rows]:
    return (
        conn.execute("SELECT * FROM messages ORDER BY id").fetchall(),
        conn.execute("SELECT * FROM parts ORDER BY message_id, seq").fetchall(),
    )


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[sqlite3.Connection]:
    """A migrated SQLite store with the account the rows belong to."""
    store = SqliteStore(str(tmp_path / "store.db"))
    await store.open()
    await store.migrate()
    await store.close()
    conn = sqlite3.connect(store.path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("INSERT INTO accounts (id, name, created_at) VALUES ('acct', 'acct', 0)")
    try:
        yield conn
    finally:
        conn.close()


def _both_ways(
    db: sqlite3.Connection, row_wise: list[tuple[str, Rows]], set_wise: multirow.Statements
) -> list[tuple[Rows, Rows]]:
    """The tables after `row_wise` (each statement run once per row) and after `set_wise`."""
    results = []
    for steps in (
        [(statement, row) for statement, rows in row_wise for row in rows],
        set_wise,
    ):
        db.execute("BEGIN")
        for statement, params in steps:
            db.execute(statement, params)
        results.append(_dump(db))
        db.execute("ROLLBACK")
    return results


def _message(i: int) -> tuple[object, ...]:
    return (
        f"m{i}", "acct", None, "+15550001", "+15550002", "hello", "gsm7", 2, "transactional",
        True, Status.QUEUED.value, Status.QUEUED.rank, 1000.0 + i, 1000.0 + i, None, None, None,
        0, None, 0.0, None,
    )  # fmt: skip


def _part(i: int, seq: int) -> tuple[object, ...]:
    return (
        f"m{i}", seq, 2, "gsm7", 0, b"\x05\x00\x03\x01\x02" + bytes([seq]), b"payload",
        "carrier", 1, Status.QUEUED.value, Status.QUEUED.rank, None, 1000.0, 1000.0, 0,
    )  # fmt: skip


def _part_update(
    i: int, seq: int, status: Status, at: float, upstream: str | None
) -> tuple[object, ...]:
    return (
        status.value, status.rank, upstream, None, None if status is Status.DELIVERED else "001",
        None, 1 if status is Status.SUBMITTED else 0, at if status is Status.SUBMITTED else None,
        at if status.rank >= Status.DELIVERED.rank else None, at, status.name, f"m{i}", seq,
        status.rank,
    )  # fmt: skip


def _message_update(i: int, status: Status, at: float) -> tuple[object, ...]:
    done = at if status.rank >= Status.DELIVERED.rank else None
    return (status.value, status.rank, at, done, None, None, at, f"m{i}", status.rank)


def random_updates(rng: random.Random, size: int) -> tuple[Rows, Rows]:
    """A batch of part updates (and their messages' updates) for the 6 messages of 2 parts each
    that `_message` and `_part` make: many repeats of the same parts, in random orders, some of
    which the rank guard refuses."""
    batch = [
        (rng.randrange(6), rng.randint(1, 2), rng.choice(STATUSES), rng.uniform(2000, 3000),
         rng.choice([None, "up-1", "up-2"]))
        for _ in range(size)
    ]  # fmt: skip
    return (
        [_part_update(*u) for u in batch],
        [_message_update(i, status, at) for i, _, status, at, _ in batch],
    )


@pytest.mark.parametrize("size", [1, 7, 40, 80, 300])
async def test_updates_in_few_statements_equal_one_per_row_in_order(
    db: sqlite3.Connection, size: int
) -> None:
    messages = [_message(i) for i in range(6)]
    parts = [_part(i, seq) for i in range(6) for seq in (1, 2)]
    part_group = multirow.group(sql.UPDATE_PART.count("?"))
    message_group = multirow.group(sql.UPDATE_MESSAGE.count("?"))
    rng = random.Random(size)
    for _ in range(8):
        part_updates, message_updates = random_updates(rng, size)
        row_wise, set_wise = _both_ways(
            db,
            [
                (sql.INSERT_MESSAGE, messages),
                (sql.INSERT_PART, parts),
                (sql.UPDATE_PART, part_updates),
                (sql.UPDATE_MESSAGE, message_updates),
            ],
            multirow.inserts(sql.INSERT_MESSAGE, messages)
            + multirow.inserts(sql.INSERT_PART, parts)
            + multirow.updates(
                sql.UPDATE_PARTS_FROM_VALUES, part_group, part_updates, sql.part_update_key
            )
            + multirow.updates(
                sql.UPDATE_MESSAGES_FROM_VALUES,
                message_group,
                message_updates,
                sql.message_update_key,
            ),
        )
        assert set_wise == row_wise


@pytest.mark.parametrize("count", [1, 5, 50, 257, 700])
async def test_inserts_of_every_size_keep_order_and_skip_conflicts(
    db: sqlite3.Connection, count: int
) -> None:
    messages = [_message(i) for i in range(count)]
    # Every part twice: the second copy conflicts with the first, inserted by the same statement
    # or an earlier one, and ON CONFLICT DO NOTHING drops it either way.
    parts = [_part(i, seq) for i in range(count) for seq in (1, 2, 1)]
    row_wise, set_wise = _both_ways(
        db,
        [(sql.INSERT_MESSAGE, messages), (sql.INSERT_PART, parts)],
        multirow.inserts(sql.INSERT_MESSAGE, messages) + multirow.inserts(sql.INSERT_PART, parts),
    )
    assert set_wise == row_wise
    assert len(set_wise[1]) == 2 * count


def test_statements_come_in_power_of_two_sizes() -> None:
    rows = [(i, "x") for i in range(50)]
    statements = multirow.inserts("INSERT INTO t (a, b) VALUES (?, ?)", rows)
    assert [len(params) // 2 for _, params in statements] == [32, 16, 2]
    assert [v for _, params in statements for v in params] == [v for row in rows for v in row]


def test_updates_of_one_key_run_in_rounds_in_their_order() -> None:
    rows = [("a", 1), ("b", 1), ("a", 2), ("a", 3), ("b", 2)]
    statements = multirow.updates("{values}", "(?, ?)", rows, key=lambda r: r[0])
    assert [params for _, params in statements] == [["a", 1, "b", 1], ["a", 2, "b", 2], ["a", 3]]
