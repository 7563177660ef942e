"""Writers of several processes on one SQLite file (`GATEWAY_WORKERS`) queue on a file lock.

SQLite's own busy handler sleeps between tries (1, 2, 5, 10 ms and more), so a writer that finds
the database locked sleeps past the other's commit; queued on `flock`, it is woken as the lock is
released. Two gateway processes on one SQLite file took 17% more submit_sm/s this way (median of
six interleaved runs each; docs/performance.md).
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import time
from pathlib import Path

import pytest

from gateway.store import open_store


async def test_a_write_waits_for_the_file_lock_and_goes_when_it_is_released(
    tmp_path: Path,
) -> None:
    path = tmp_path / "gw.db"
    store = open_store(f"sqlite:///{path}")
    await store.open()
    try:
        await store.migrate()
        other = os.open(f"{path}-writer.lock", os.O_RDWR)  # as another process would hold it
        try:
            fcntl.flock(other, fcntl.LOCK_EX)
            write = asyncio.ensure_future(
                store.create_account(account_id="a1", name="acme", now=time.time())
            )
            await asyncio.sleep(0.3)
            assert not write.done()  # queued on the lock, not in a busy-handler sleep
            fcntl.flock(other, fcntl.LOCK_UN)
            released = time.monotonic()
            await asyncio.wait_for(write, timeout=5)
            assert time.monotonic() - released < 0.5
        finally:
            os.close(other)
        assert await store.get_account_by_name("acme") is not None
        # Whoever may open the database may open its lock: its mode is the database file's.
        assert os.stat(f"{path}-writer.lock").st_mode & 0o777 == os.stat(path).st_mode & 0o777
        # Reads never wait for it (WAL): a reader goes while another process writes.
        held = os.open(f"{path}-writer.lock", os.O_RDWR)
        try:
            fcntl.flock(held, fcntl.LOCK_EX)
            assert await asyncio.wait_for(store.get_account_by_name("acme"), timeout=2)
        finally:
            os.close(held)
    finally:
        await store.close()


@pytest.mark.parametrize("url", ["sqlite:///:memory:", "sqlite:///"])
def test_an_in_memory_store_is_refused_with_a_clear_error(url: str) -> None:
    """Its writer and reader connections would each get a database of their own."""
    with pytest.raises(ValueError, match="needs a file"):
        open_store(url)


async def test_the_lock_file_takes_the_databases_mode_and_owner(tmp_path: Path) -> None:
    """As SQLite does for its -wal and -shm files: a lock file made by root for a CLI command,
    under a narrow umask, must not lock the gateway's own user out of its database."""
    path = tmp_path / "gw.db"
    store = open_store(f"sqlite:///{path}")
    await store.open()
    await store.close()
    os.unlink(f"{path}-writer.lock")
    os.chmod(path, 0o640)
    owner = (65534, 65534) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    if os.geteuid() == 0:  # CI runs as root: the database belongs to another user here
        os.chown(path, *owner)
    umask = os.umask(0o077)
    try:
        store = open_store(f"sqlite:///{path}")
        await store.open()
        await store.close()
    finally:
        os.umask(umask)
    lock = os.stat(f"{path}-writer.lock")
    assert lock.st_mode & 0o777 == 0o640
    assert (lock.st_uid, lock.st_gid) == owner
