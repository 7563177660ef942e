"""The pipeline's SQLite writes run their statements on the event loop and only COMMIT on the
writer thread (`SqliteStore._write(..., inline=True)`): what must still hold.

- The result comes back only after the commit, and the data is then on disk for any reader.
- A failed write, or a failed commit, rolls back and leaves the connection and the writer lock
  free for the next one.
- A caller cancelled while its commit runs does not let the next transaction onto the
  connection early; its write is committed all the same.
- Waiting for another process's lock never happens on the event loop.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from gateway.store.sqlite import SqliteStore


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = SqliteStore(str(tmp_path / "gw.db"))
    await store.open()
    await store.migrate()
    await store._write(lambda c: c.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)"))
    try:
        yield store
    finally:
        await store.close()


def _insert(n: int) -> Callable[[sqlite3.Connection], int]:
    def run(conn: sqlite3.Connection) -> int:
        conn.execute("INSERT INTO t (n) VALUES (?)", (n,))
        return threading.get_ident()

    return run


def _rows(store: SqliteStore) -> list[int]:
    """What a new connection sees: what is committed."""
    with sqlite3.connect(store.path) as conn:
        return [r[0] for r in conn.execute("SELECT n FROM t ORDER BY n")]


def _lock_is_free(store: SqliteStore) -> bool:
    other = os.open(f"{store.path}-writer.lock", os.O_RDONLY)
    try:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(other)


async def test_the_statements_run_on_the_loop_and_the_result_follows_the_commit(
    store: SqliteStore,
) -> None:
    ran_on = await store._write(_insert(1), inline=True)
    assert ran_on == threading.get_ident()
    assert _rows(store) == [1]
    assert _lock_is_free(store)


async def test_a_failed_write_rolls_back_and_the_next_one_goes(store: SqliteStore) -> None:
    def failing(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t (n) VALUES (1)")
        raise ValueError("planned")

    with pytest.raises(ValueError, match="planned"):
        await store._write(failing, inline=True)
    assert _rows(store) == []
    assert _lock_is_free(store)
    await store._write(_insert(2), inline=True)
    assert _rows(store) == [2]


async def test_a_failed_commit_rolls_back_and_frees_the_connection(store: SqliteStore) -> None:
    # A deferred foreign key is checked at COMMIT: the commit itself fails, on the thread.
    await store._write(
        lambda c: c.execute(
            "CREATE TABLE child (parent INTEGER REFERENCES t (n) DEFERRABLE INITIALLY DEFERRED)"
        )
    )
    with pytest.raises(sqlite3.IntegrityError):
        await store._write(
            lambda c: c.execute("INSERT INTO child (parent) VALUES (99)"), inline=True
        )
    assert store._writer is not None and not store._writer.in_transaction
    assert _lock_is_free(store)
    await store._write(_insert(3), inline=True)
    assert _rows(store) == [3]


async def test_a_cancelled_caller_keeps_the_connection_until_its_commit_ends(
    store: SqliteStore,
) -> None:
    gate = threading.Event()
    store._write_thread.submit(gate.wait, 10)  # the writer thread is busy until the gate opens
    first = asyncio.ensure_future(store._write(_insert(1), inline=True))
    await asyncio.sleep(0.05)  # its statements ran; its commit waits for the thread
    first.cancel()
    second = asyncio.ensure_future(store._write(_insert(2), inline=True))
    await asyncio.sleep(0.2)
    assert not second.done()  # the connection is still in the first one's transaction
    gate.set()
    await asyncio.wait_for(second, timeout=5)
    assert _rows(store) == [1, 2]  # handed in, so committed, cancelled caller or not


async def test_another_processs_writer_lock_is_waited_for_off_the_loop(
    store: SqliteStore,
) -> None:
    other = os.open(f"{store.path}-writer.lock", os.O_RDONLY)  # as another worker holds it
    try:
        fcntl.flock(other, fcntl.LOCK_EX)
        write = asyncio.ensure_future(store._write(_insert(1), inline=True))
        started = time.monotonic()
        await asyncio.sleep(0.2)
        assert time.monotonic() - started < 0.5  # the loop went on meanwhile
        assert not write.done()
        fcntl.flock(other, fcntl.LOCK_UN)
        ran_on = await asyncio.wait_for(write, timeout=5)
    finally:
        os.close(other)
    assert ran_on != threading.get_ident()  # the whole transaction went to the writer thread
    assert _rows(store) == [1]


async def test_a_foreign_connection_writing_is_waited_for_off_the_loop(
    store: SqliteStore,
) -> None:
    """The sqlite3 shell or a backup holds SQLite's own lock, not the gateway's lock file."""
    foreign = sqlite3.connect(store.path, isolation_level=None)
    try:
        foreign.execute("BEGIN IMMEDIATE")
        write = asyncio.ensure_future(store._write(_insert(1), inline=True))
        started = time.monotonic()
        await asyncio.sleep(0.2)
        assert time.monotonic() - started < 0.5
        assert not write.done()
        foreign.execute("COMMIT")
        ran_on = await asyncio.wait_for(write, timeout=5)
    finally:
        foreign.close()
    assert ran_on != threading.get_ident()
    assert _rows(store) == [1]
    assert _lock_is_free(store)
