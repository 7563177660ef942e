"""The SQLite writer's multi-row statements (gateway.store.sqlite_rows) leave the tables exactly
as `executemany` of the one-row statements would, on the gateway's own schema: the same part
updated twice in one batch (a submit response and its receipt), updates the rank guard refuses,
and inserts that conflict with rows inserted earlier in the same statement.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.domain import Status
from gateway.store import open_store, sql
from gateway.store.sqlite_rows import insert_rows, update_rows

STATUSES = [Status.SUBMITTED, Status.DELIVERED, Status.UNDELIVERED, Status.EXPIRED]


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import asyncio

    path = tmp_path_factory.mktemp("rows") / "schema.db"

    async def migrate() -> None:
        store = open_store(f"sqlite:///{path}")
        await store.open()
        try:
            await store.migrate()
        finally:
            await store.close()

    asyncio.run(migrate())
    return path


def _copy(schema: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    source = sqlite3.connect(schema)
    source.backup(conn)
    source.close()
    return conn


def _message(i: int) -> tuple[object, ...]:
    return (
        f"m{i}", "acct", None, "+15550001", "+15550002", "hello", "gsm7", 2, "transactional",
        1, Status.QUEUED.value, Status.QUEUED.rank, 1000.0 + i, 1000.0 + i, None, None, None,
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


Rows = list[tuple[object, ...]]


def _dump(conn: sqlite3.Connection) -> tuple[Rows, Rows]:
    return (
        conn.execute("SELECT * FROM messages ORDER BY id").fetchall(),
        conn.execute("SELECT * FROM parts ORDER BY message_id, seq").fetchall(),
    )


update_batches = st.lists(
    st.tuples(
        st.integers(0, 5),  # message
        st.integers(1, 2),  # part
        st.sampled_from(STATUSES),
        st.floats(2000, 3000),
        st.sampled_from([None, "up-1", "up-2"]),
    ),
    max_size=80,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=update_batches)
def test_updates_in_one_statement_equal_executemany_in_order(
    schema: Path, batch: list[tuple[int, int, Status, float, str | None]]
) -> None:
    row_wise, set_wise = _copy(schema), _copy(schema)
    messages = [_message(i) for i in range(6)]
    parts = [_part(i, seq) for i in range(6) for seq in (1, 2)]
    part_updates = [_part_update(*u) for u in batch]
    message_updates = [_message_update(i, status, at) for i, _, status, at, _ in batch]

    row_wise.executemany(sql.INSERT_MESSAGE, messages)
    row_wise.executemany(sql.INSERT_PART, parts)
    row_wise.executemany(sql.UPDATE_PART, part_updates)
    row_wise.executemany(sql.UPDATE_MESSAGE, message_updates)

    insert_rows(set_wise, sql.INSERT_MESSAGE, messages)
    insert_rows(set_wise, sql.INSERT_PART, parts)
    update_rows(set_wise, sql.UPDATE_PARTS_FROM_VALUES, part_updates, key=lambda r: r[11:13])
    update_rows(set_wise, sql.UPDATE_MESSAGES_FROM_VALUES, message_updates, key=lambda r: r[7])

    assert _dump(set_wise) == _dump(row_wise)


@pytest.mark.parametrize("count", [0, 1, 5, 50, 257, 700])
def test_inserts_of_every_size_keep_order_and_skip_conflicts(schema: Path, count: int) -> None:
    row_wise, set_wise = _copy(schema), _copy(schema)
    messages = [_message(i) for i in range(count)]
    # Every part twice: the second copy conflicts with the first, inserted by the same statement
    # or an earlier one, and ON CONFLICT DO NOTHING drops it on both paths.
    parts = [_part(i, seq) for i in range(count) for seq in (1, 2, 1)]
    row_wise.executemany(sql.INSERT_MESSAGE, messages)
    row_wise.executemany(sql.INSERT_PART, parts)
    insert_rows(set_wise, sql.INSERT_MESSAGE, messages)
    insert_rows(set_wise, sql.INSERT_PART, parts)
    assert _dump(set_wise) == _dump(row_wise)
    assert len(_dump(set_wise)[1]) == 2 * count
