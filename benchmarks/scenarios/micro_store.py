"""micro-store: the intake commit (`Store.insert_messages`) in batches of 1, 100 and 1000 messages
on SQLite (a temporary file, WAL, synchronous=FULL as the store opens it) and PostgreSQL (a fresh
schema, dropped afterwards): messages per second and milliseconds per commit.

Baseline: a plain `executemany` of as many rows into a bare two-column table of the same
database, one transaction per batch, through the same path (SQLite: one dedicated writer thread,
BEGIN IMMEDIATE ... COMMIT; PostgreSQL: one asyncpg connection and transaction). The ratio is
what our schema (two tables, indexes, foreign keys, 30 columns) costs over the bare commit.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import uvloop

from benchmarks.messages import single_part_messages
from benchmarks.modes import Context
from benchmarks.report import ScenarioResult
from gateway.domain import NewMessage, new_id
from gateway.store import Store, open_store

BATCH_SIZES = (1, 100, 1000)
BODY = "Your verification code is 482913. " * 4 + "Thanks."  # 143 GSM characters
BASELINE_TABLE = "bench_baseline"


class _BareSqlite:
    """The SQLite baseline: its own connection to the same file, the store's pragmas."""

    def __init__(self, path: str) -> None:
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="bench-sqlite")
        self._path = path
        self._conn: sqlite3.Connection | None = None

    async def _run(self, fn: Callable[[], None]) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, fn)

    async def open(self) -> None:
        def connect() -> None:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute(f"CREATE TABLE {BASELINE_TABLE} (id TEXT PRIMARY KEY, body TEXT NOT NULL)")
            self._conn = conn

        await self._run(connect)

    async def insert(self, rows: Sequence[tuple[str, str]]) -> None:
        def write() -> None:
            conn = self._conn
            assert conn is not None
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(f"INSERT INTO {BASELINE_TABLE} (id, body) VALUES (?, ?)", rows)
            conn.execute("COMMIT")

        await self._run(write)

    async def close(self) -> None:
        if self._conn is not None:
            await self._run(self._conn.close)
        self._thread.shutdown(wait=False)


class _BarePostgres:
    """The PostgreSQL baseline: one asyncpg connection on the same schema."""

    def __init__(self, dsn: str, schema: str) -> None:
        self._dsn = dsn
        self._schema = schema
        self._conn: asyncpg.Connection | None = None

    async def open(self) -> None:
        self._conn = await asyncpg.connect(self._dsn, server_settings={"search_path": self._schema})
        await self._conn.execute(
            f"CREATE TABLE {BASELINE_TABLE} (id TEXT PRIMARY KEY, body TEXT NOT NULL)"
        )

    async def insert(self, rows: Sequence[tuple[str, str]]) -> None:
        conn = self._conn
        assert conn is not None
        async with conn.transaction():
            await conn.executemany(f"INSERT INTO {BASELINE_TABLE} (id, body) VALUES ($1, $2)", rows)

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()


def _messages(account_id: str, count: int) -> list[NewMessage]:
    return single_part_messages(account_id, count, body=BODY, connector="simulator")


async def _timed_commits(
    commit: Callable[[Sequence[NewMessage]], Awaitable[None]],
    messages: list[NewMessage],
    batch: int,
    budget: float,
) -> tuple[int, float]:
    """Commit `messages` `batch` at a time until they are all in or `budget` seconds passed;
    return (messages committed, seconds spent committing)."""
    spent = 0.0
    done = 0
    for start in range(0, len(messages), batch):
        chunk = messages[start : start + batch]
        t0 = time.perf_counter()
        await commit(chunk)
        spent += time.perf_counter() - t0
        done += len(chunk)
        if spent >= budget:
            break
    return done, spent


async def _bench(
    ctx: Context,
    result: ScenarioResult,
    label: str,
    store: Store,
    bare: _BareSqlite | _BarePostgres,
) -> None:
    commits = {
        1: ctx.mode.pick(full=300, quick=60, smoke=2),
        100: ctx.mode.pick(full=40, quick=10, smoke=1),
        1000: ctx.mode.pick(full=8, quick=3, smoke=1),
    }
    budget = ctx.mode.pick(full=3.0, quick=0.7, smoke=5.0)
    account = await store.create_account(
        account_id=new_id(), name=f"bench-{label}", now=time.time()
    )

    async def insert(chunk: Sequence[NewMessage]) -> None:
        await store.insert_messages(chunk, owner="bench-node")

    async def insert_bare(chunk: Sequence[NewMessage]) -> None:
        await bare.insert([(m.id, m.body) for m in chunk])

    # One commit of each size first, so connections, caches and the WAL are warm.
    for size in BATCH_SIZES:
        await insert(_messages(account.id, size))
        await insert_bare(_messages(account.id, size))
    for _ in range(ctx.runs):
        for size in BATCH_SIZES:
            messages = _messages(account.id, size * commits[size])
            done, spent = await _timed_commits(insert, messages, size, budget)
            n_commits = -(-done // size)
            rate_name = f"{label}, batch {size}: messages/s"
            commit_name = f"{label}, batch {size}: ms per commit"
            result.figures.record(rate_name, done / spent, "msg/s")
            result.figures.record(
                commit_name, spent / n_commits * 1000, "ms", higher_is_better=False
            )
            last = messages[done - 1]
            record = await store.get_message(account_id=account.id, message_id=last.id)
            result.check(
                f"{label}, batch {size}: last message reads back",
                record is not None and record.segments == 1,
            )

            rows = _messages(account.id, size * commits[size])
            done_bare, spent_bare = await _timed_commits(insert_bare, rows, size, budget)
            bare_commits = -(-done_bare // size)
            result.figures.record_baseline(rate_name, done_bare / spent_bare, "msg/s", "(bare)")
            result.figures.record_baseline(
                commit_name, spent_bare / bare_commits * 1000, "ms", "(bare)"
            )


async def _sqlite(ctx: Context, result: ScenarioResult) -> None:
    with tempfile.TemporaryDirectory(dir=ctx.work_dir, prefix="bench-store-") as tmp:
        path = str(Path(tmp) / "store.db")
        store = open_store(f"sqlite:///{path}")
        bare = _BareSqlite(path)
        await store.open()
        try:
            await store.migrate()
            await bare.open()
            await _bench(ctx, result, "SQLite", store, bare)
        finally:
            await bare.close()
            await store.close()


async def _postgres(ctx: Context, result: ScenarioResult) -> None:
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    store = open_store(ctx.postgres_dsn, schema=schema)
    bare = _BarePostgres(ctx.postgres_dsn, schema)
    try:
        await store.open()
        await store.migrate()
        await bare.open()
        await _bench(ctx, result, "PostgreSQL", store, bare)
    finally:
        await bare.close()
        await store.close()
        conn = await asyncpg.connect(ctx.postgres_dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


async def _main(ctx: Context, result: ScenarioResult) -> None:
    await _sqlite(ctx, result)
    try:
        await _postgres(ctx, result)
    except (OSError, asyncpg.PostgresError) as exc:
        result.check("PostgreSQL reachable", False, f"{ctx.postgres_dsn}: {exc}")


def run(ctx: Context) -> ScenarioResult:
    result = ScenarioResult(
        "micro-store",
        ctx.mode.name,
        f"Store.insert_messages in this process; SQLite file, PostgreSQL {_host(ctx)}",
    )
    uvloop.run(_main(ctx, result))
    result.runs = ctx.runs
    result.details["pid"] = os.getpid()
    return result


def _host(ctx: Context) -> str:
    return ctx.postgres_dsn.rsplit("@", 1)[-1]
