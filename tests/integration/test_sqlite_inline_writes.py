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


@pytest.mark.parametrize("inline", [True, False])
async def test_a_failed_commit_rolls_back_and_frees_the_connection(
    store: SqliteStore, inline: bool
) -> None:
    # A deferred foreign key is checked at COMMIT: the commit itself fails, on the thread.
    await store._write(
        lambda c: c.execute(
            "CREATE TABLE child (parent INTEGER REFERENCES t (n) DEFERRABLE INITIALLY DEFERRED)"
        )
    )
    with pytest.raises(sqlite3.IntegrityError):
        await store._write(
            lambda c: c.execute("INSERT INTO child (parent) VALUES (99)"), inline=inline
        )
    assert store._writer is not None and not store._writer.in_transaction
    assert _lock_is_free(store)
    await store._write(_insert(3), inline=True)
    assert _rows(store) == [3]


async def test_a_failed_begin_frees_the_writer_lock(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not "busy" (a corrupt file, say): the error goes to the caller, the lock file is free."""
    writer = store._writer
    assert writer is not None

    class Corrupt:
        in_transaction = False

        def execute(self, statement: str) -> None:
            raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(store, "_writer", Corrupt())
    with pytest.raises(sqlite3.DatabaseError, match="malformed"):
        await store._write(_insert(1), inline=True)
    assert _lock_is_free(store)
    monkeypatch.setattr(store, "_writer", writer)
    await store._write(_insert(2), inline=True)
    assert _rows(store) == [2]


async def test_a_cancelled_caller_keeps_the_connection_until_its_commit_ends(
    store: SqliteStore,
) -> None:
    gate = threading.Event()
    store._write_thread.submit(gate.wait, 10)  # the writer thread is busy until the gate opens
    first = asyncio.ensure_future(store._write(_insert(1), inline=True))
    await asyncio.sleep(0.05)  # its statements ran; its commit waits for the thread
    first.cancel()
    ran: list[int] = []

    def second_write(conn: sqlite3.Connection) -> None:
        ran.append(threading.get_ident())
        conn.execute("INSERT INTO t (n) VALUES (2)")

    second = asyncio.ensure_future(store._write(second_write, inline=True))
    await asyncio.sleep(0.2)
    # The connection is still in the first one's transaction, which holds the writer lock.
    assert not second.done() and not ran
    assert not _lock_is_free(store)
    gate.set()
    await asyncio.wait_for(second, timeout=5)
    assert ran == [threading.get_ident()]  # its turn came, and it ran on the loop
    assert _rows(store) == [1, 2]  # handed in, so committed, cancelled caller or not


async def test_writes_called_before_close_are_committed_and_later_ones_refused(
    tmp_path: Path,
) -> None:
    store = SqliteStore(str(tmp_path / "gw.db"))
    await store.open()
    await store._write(lambda c: c.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)"))
    gate = threading.Event()
    store._write_thread.submit(gate.wait, 10)
    first = asyncio.ensure_future(store._write(_insert(1), inline=True))
    await asyncio.sleep(0.05)
    second = asyncio.ensure_future(store._write(_insert(2), inline=True))  # waits for its turn
    third = asyncio.ensure_future(store._write(_insert(3)))  # the writer thread's path
    closing = asyncio.ensure_future(store.close())
    await asyncio.sleep(0.05)
    gate.set()
    await asyncio.wait_for(asyncio.gather(first, second, third, closing), timeout=5)
    assert _rows(store) == [1, 2, 3]
    with pytest.raises(AssertionError, match="store not open"):
        await store._write(_insert(4), inline=True)


async def test_a_cancelled_close_still_keeps_later_writes_off_the_closing_connection(
    store: SqliteStore,
) -> None:
    gate = threading.Event()
    store._write_thread.submit(gate.wait, 10)
    closing = asyncio.ensure_future(store.close())  # its job waits behind the gate
    await asyncio.sleep(0.05)
    closing.cancel()
    ran: list[int] = []
    write = asyncio.ensure_future(store._write(lambda c: ran.append(1), inline=True))
    await asyncio.sleep(0.1)
    assert not ran and not write.done()  # the close still has the turn
    gate.set()
    with pytest.raises(AssertionError, match="store not open"):
        await asyncio.wait_for(write, timeout=5)
    assert not ran


async def test_another_processs_writer_lock_is_waited_for_off_the_loop(
    store: SqliteStore,
) -> None:
    other = os.open(f"{store.path}-writer.lock", os.O_RDONLY)  # as another worker holds it
    try:
        fcntl.flock(other, fcntl.LOCK_EX)
        # Released from another thread: were the wait on the loop, the test would still end.
        threading.Timer(0.5, fcntl.flock, (other, fcntl.LOCK_UN)).start()
        write = asyncio.ensure_future(store._write(_insert(1), inline=True))
        started = time.monotonic()
        await asyncio.sleep(0.2)
        assert time.monotonic() - started < 0.4  # the loop went on meanwhile
        assert not write.done()
        ran_on = await asyncio.wait_for(write, timeout=5)
    finally:
        await asyncio.sleep(0.5)  # the timer has fired
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
