"""SQLite store: the embedded default for a single node.

The standard `sqlite3` module with two connections: the only writer and a reader, each with a
dedicated thread, so a store call is at most one hop between the event loop and a thread however
many statements it runs (aiosqlite pays a hop per statement). The message pipeline's writes
(intake, status, claims, the SMPP outbox) run their statements on the event loop itself and hand
only COMMIT, with its fsync, to the writer thread (`_write`). WAL lets the reader see every
committed write while the writer works. `synchronous=FULL` by default: an
acknowledged message must survive a power cut, not just a process crash; group commit in intake
keeps the fsync cost per batch rather than per message.
"""

from __future__ import annotations

import asyncio
import dataclasses
import fcntl
import functools
import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from gateway.domain import (
    Account,
    AppliedUpdates,
    InboundPart,
    InboundRecord,
    MessageRecord,
    NewMessage,
    OutboxItem,
    OutboxTake,
    PartKey,
    PartRecord,
    PartUpdate,
    SmppCredential,
    StatusChange,
)
from gateway.store import accounts_sql, multirow, sql
from gateway.store.base import Assemble, ParkedReceipt
from gateway.store.lifecycle import (
    MessageRow,
    PartRow,
    message_row,
    part_row,
    plan_esme_receipts,
    plan_message_changes,
    split_taken,
)
from gateway.store.migrations import load_migrations, split_statements
from gateway.store.sqlite_accounts import SqliteAccountsMixin
from gateway.store.sqlite_batches import SqliteBatches
from gateway.store.sqlite_connectors import SqliteConnectors
from gateway.store.sqlite_events import SqliteEvents, queue_inbound_event, queue_status_events
from gateway.store.sqlite_operations import SqliteOperations
from gateway.store.sqlite_optout import SqliteOptOut, apply_inbound_keyword

log = logging.getLogger(__name__)

T = TypeVar("T")
# SQLite's default limit on host parameters is 32766; keep IN lists well below it.
_CHUNK = 900
# How long a transaction on the writer thread waits for a connection outside the gateway (the
# sqlite3 shell, a backup) to let go of the database; gateway processes queue on the lock file.
_BUSY_TIMEOUT_MS = 30_000
# The pipeline's writes of up to this many rows run on the event loop (see `_write`): at most a
# few tens of milliseconds. Larger ones (a backlog, a big REST batch) go to the writer thread.
_INLINE_MAX_ROWS = 2000


class SqliteStore(
    SqliteConnectors,
    SqliteBatches,
    SqliteOptOut,
    SqliteOperations,
    SqliteEvents,
    SqliteAccountsMixin,
):
    dialect = "sqlite"

    def __init__(self, path: str, *, synchronous: str = "FULL", usage_shard: int = 0) -> None:
        self.path = path
        self.synchronous = synchronous
        self.usage_shard = usage_shard  # its rows in account_usage_shards (usage_shard())
        self._writer: sqlite3.Connection | None = None
        # Writers in other processes on this file (GATEWAY_WORKERS) queue on this lock, which
        # wakes the next one as the last commits; SQLite's own busy handler sleeps 1, 2, 5,
        # 10 ms and more between tries, past the other's commit.
        self._write_lock: int | None = None
        self._reader: sqlite3.Connection | None = None
        self._write_thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._write_turn = asyncio.Lock()
        self._read_thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-reader")

    # -- plumbing ---------------------------------------------------------------------------

    def _connect(self, busy_timeout_ms: int = _BUSY_TIMEOUT_MS) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        return conn

    async def _write(self, fn: Callable[[sqlite3.Connection], T], *, inline: bool = False) -> T:
        """Run `fn` in one IMMEDIATE transaction on the writer connection; return its result
        once committed.

        `inline`: for the small, frequent writes of the message pipeline. `fn` runs here, on
        the event loop thread, and only COMMIT (the WAL write and its fsync) goes to the
        writer thread. On the writer thread, each statement gives up the GIL and must win it
        back from the busy event loop: under SMPP load a status write took twice its CPU time
        in waits, and intake queued behind it. When another process holds the writer lock, or
        a foreign connection holds SQLite's own, the whole transaction goes to the writer
        thread to wait there, never on the loop.
        """

        def start() -> Callable[[], T]:
            if inline and self._begin_inline():
                try:
                    result = fn(self._connection())
                except BaseException:
                    self._end_inline(commit=False)
                    raise
                return functools.partial(self._commit_inline, result)
            return functools.partial(self._transaction, fn)

        return await self._in_turn(start)

    async def _in_turn(self, start: Callable[[], Callable[[], T]]) -> T:
        """Take the writer turn (one transaction at a time on the connection), run `start`
        here and then the job it returns on the writer thread. The turn passes on when that job
        ends, whether or not the caller still waits: a cancelled caller must not let the next
        transaction in while the thread still has the connection."""
        await self._write_turn.acquire()
        loop = asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()
        try:
            self._write_thread.submit(self._run_job, start(), loop, done)
        except BaseException:
            self._write_turn.release()
            raise
        return await done

    def _run_job(
        self, job: Callable[[], Any], loop: asyncio.AbstractEventLoop, done: asyncio.Future[Any]
    ) -> None:
        """On the writer thread: run `job`, then hand its outcome and the turn back."""
        try:
            outcome: Any = job()
        except BaseException as exc:
            loop.call_soon_threadsafe(self._job_ended, done, None, exc)
        else:
            loop.call_soon_threadsafe(self._job_ended, done, outcome, None)

    def _job_ended(
        self, done: asyncio.Future[Any], outcome: Any, error: BaseException | None
    ) -> None:
        self._write_turn.release()
        if done.done():  # its caller was cancelled
            if error is not None:
                log.error("a SQLite write whose caller had gone failed: %r", error)
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(outcome)

    def _connection(self) -> sqlite3.Connection:
        conn = self._writer
        assert conn is not None, "store not open"
        return conn

    def _transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """On the writer thread: the whole transaction, waiting for the locks if need be."""
        conn = self._connection()
        lock = self._write_lock
        if lock is not None:
            _take_write_lock(lock)
        try:
            conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
            try:
                conn.execute("BEGIN IMMEDIATE")
            finally:
                conn.execute("PRAGMA busy_timeout=0")
            try:
                result = fn(conn)
                conn.execute("COMMIT")
            except BaseException:
                _roll_back(conn)
                raise
        finally:
            if lock is not None:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return result

    def _begin_inline(self) -> bool:
        """On the loop: begin a transaction if both locks are free at once, else False."""
        conn = self._connection()
        lock = self._write_lock
        if lock is not None:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
        try:
            conn.execute("BEGIN IMMEDIATE")  # busy_timeout is 0 outside _transaction
        except BaseException as exc:
            if lock is not None:
                fcntl.flock(lock, fcntl.LOCK_UN)
            # A foreign connection writes: wait for it on the thread. (Not when this connection
            # is still in a transaction, after a ROLLBACK that failed: that is no wait.)
            if isinstance(exc, sqlite3.OperationalError) and not conn.in_transaction:
                return False
            raise
        return True

    def _commit_inline(self, result: T) -> T:
        """On the writer thread: commit what `fn` wrote on the loop; its result follows."""
        self._end_inline(commit=True)
        return result

    def _end_inline(self, *, commit: bool) -> None:
        """End what `_begin_inline` began: COMMIT (on the writer thread) or roll back, and roll
        back if the commit fails (a full disk); then let other processes write."""
        conn = self._connection()
        try:
            if commit:
                conn.execute("COMMIT")
        finally:
            _roll_back(conn)  # nothing to do once committed
            if self._write_lock is not None and not conn.in_transaction:
                fcntl.flock(self._write_lock, fcntl.LOCK_UN)

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            assert self._reader is not None, "store not open"
            return fn(self._reader)

        return await asyncio.get_running_loop().run_in_executor(self._read_thread, run)

    async def open(self) -> None:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        # The writer waits for SQLite's own lock only in `_transaction`, on the writer thread,
        # never on the event loop (see `_write`).
        self._writer = await loop.run_in_executor(self._write_thread, self._connect, 0)
        try:
            self._write_lock = _open_write_lock(self.path)
            self._reader = await loop.run_in_executor(self._read_thread, self._connect)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        if self._writer is not None:
            # After any write called before (they hold or wait for the turn), and on the writer
            # thread: none may use the lock file's descriptor once closed (or a file that
            # reused its number). Writes called later find the store closed.
            await self._in_turn(lambda: self._close_writer)
        if self._reader is not None:
            await loop.run_in_executor(self._read_thread, self._reader.close)
        self._writer = self._reader = None
        self._write_thread.shutdown(wait=False)
        self._read_thread.shutdown(wait=False)

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._write_lock is not None:
            os.close(self._write_lock)
            self._write_lock = None

    async def ping(self) -> None:
        await self._read(lambda c: c.execute("SELECT 1").fetchone())

    async def maintenance_warnings(self) -> list[str]:
        return []  # SQLite reuses freed pages itself and plans with the INDEXED BY hints

    async def migrate(self) -> list[int]:
        def run(conn: sqlite3.Connection) -> list[int]:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations"
                " (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)"
            )
            done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
            applied = []
            for version, text in load_migrations(self.dialect):
                if version in done:
                    continue
                for statement in split_statements(text):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations VALUES (?, julianday('now'))", (version,)
                )
                applied.append(version)
            return applied

        return await self._write(run)

    # -- accounts ---------------------------------------------------------------------------

    async def create_account(self, *, account_id: str, name: str, now: float) -> Account:
        await self._write(
            lambda c: c.execute(
                "INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?)",
                (account_id, name, now),
            )
        )
        return Account(id=account_id, name=name)

    async def get_account_by_name(self, name: str) -> Account | None:
        row = await self._read(
            lambda c: c.execute(
                "SELECT id, name, active FROM accounts WHERE name = ?", (name,)
            ).fetchone()
        )
        return None if row is None else Account(id=row[0], name=row[1], active=bool(row[2]))

    async def add_api_key(self, *, account_id: str, key_hash: str, prefix: str, now: float) -> None:
        await self._write(
            lambda c: c.execute(
                "INSERT INTO api_keys (key_hash, account_id, prefix, created_at)"
                " VALUES (?, ?, ?, ?)",
                (key_hash, account_id, prefix, now),
            )
        )

    async def api_keys_with_prefix(self, prefix: str) -> list[tuple[str, Account]]:
        rows = await self._read(
            lambda c: c.execute(
                "SELECT k.key_hash, a.id, a.name, a.active FROM api_keys k JOIN accounts a"
                " ON a.id = k.account_id WHERE k.prefix = ? AND k.revoked_at IS NULL",
                (prefix,),
            ).fetchall()
        )
        return [(r[0], Account(id=r[1], name=r[2], active=bool(r[3]))) for r in rows]

    # -- intake -----------------------------------------------------------------------------

    async def insert_messages(self, messages: Sequence[NewMessage], *, owner: str | None) -> None:
        message_rows = [sql.message_row(m) for m in messages if not m.continuation]
        part_rows = [row for m in messages for row in sql.part_rows(m, owner)]
        bodies = sql.continuation_bodies(messages)
        usage = accounts_sql.usage_rows(messages, self.usage_shard)

        def run(conn: sqlite3.Connection) -> None:
            _run(conn, multirow.inserts(sql.INSERT_MESSAGE, message_rows))
            _run(conn, multirow.inserts(sql.INSERT_PART, part_rows))
            if bodies:
                conn.executemany(sql.SET_BODY, bodies)
            conn.executemany(accounts_sql.UPSERT_USAGE, usage)

        await self._write(run, inline=len(part_rows) <= _INLINE_MAX_ROWS)

    async def get_message(self, *, account_id: str, message_id: str) -> MessageRecord | None:
        def run(conn: sqlite3.Connection) -> MessageRecord | None:
            row = conn.execute(sql.SELECT_MESSAGE, (message_id, account_id)).fetchone()
            if row is None:
                return None
            parts = conn.execute(sql.SELECT_PART_VIEWS, (message_id,)).fetchall()
            return sql.message_record(row, parts)

        return await self._read(run)

    # -- dispatch ---------------------------------------------------------------------------

    async def claim_parts(
        self, *, node_id: str, limit: int, now: float, priority: int | None = None
    ) -> list[PartRecord]:
        def run(conn: sqlite3.Connection) -> list[PartRecord]:
            if priority is None:
                rows = conn.execute(sql.SELECT_DUE_PARTS, (now, limit)).fetchall()
            else:
                query, params = sql.SELECT_DUE_PARTS_OF_PRIORITY, (now, priority, limit)
                rows = conn.execute(query, params).fetchall()
            conn.executemany(sql.SET_OWNER, [(node_id, r[0], r[1]) for r in rows])
            return [sql.part_record(r) for r in rows]

        return await self._write(run, inline=limit <= _INLINE_MAX_ROWS)

    async def claim_expired(self, *, node_id: str, limit: int, now: float) -> list[PartKey]:
        def run(conn: sqlite3.Connection) -> list[PartKey]:
            rows = conn.execute(sql.SELECT_EXPIRED_PARTS_SQLITE, (now, limit)).fetchall()
            conn.executemany(sql.SET_OWNER, [(node_id, r[0], r[1]) for r in rows])
            return [PartKey(r[0], r[1]) for r in rows]

        return await self._write(run)

    async def release_owned(self, *, node_id: str) -> int:
        return await self._write(lambda c: c.execute(sql.RELEASE_OWNED, (node_id,)).rowcount)

    async def heartbeat(self, *, node_id: str, now: float) -> None:
        await self._write(lambda c: c.execute(sql.UPSERT_HEARTBEAT, (node_id, now)))

    async def release_stale(self, *, now: float, ttl: float) -> int:
        return await self._write(lambda c: c.execute(sql.RELEASE_STALE, (now - ttl,)).rowcount)

    # -- status writer ----------------------------------------------------------------------

    async def apply_updates(self, updates: Sequence[PartUpdate]) -> list[StatusChange]:
        return (await self.apply_updates_and_take(updates, None)).changes

    async def apply_updates_and_take(
        self, updates: Sequence[PartUpdate], take: OutboxTake | None
    ) -> AppliedUpdates:
        retries = [sql.retry_part_row(u) for u in updates if u.retry_at is not None]
        transitions = [u for u in updates if u.retry_at is None]
        rows = [sql.update_part_row(u) for u in transitions]
        message_ids = list(dict.fromkeys(u.message_id for u in transitions))
        now = max((u.at for u in updates), default=0.0)

        def run(conn: sqlite3.Connection) -> AppliedUpdates:
            if retries:
                conn.executemany(sql.RETRY_PART, retries)
            if not rows:
                return AppliedUpdates([], [], 0)
            _run(
                conn,
                multirow.updates(
                    sql.UPDATE_PARTS_FROM_VALUES, _PART_GROUP, rows, sql.part_update_key
                ),
            )
            messages: dict[str, MessageRow] = {}
            parts: dict[str, list[PartRow]] = {}
            for chunk in _chunks(message_ids):
                marks = sql.in_list(len(chunk))
                for r in conn.execute(sql.SELECT_MESSAGES_FOR_UPDATE.format(marks), chunk):
                    messages[r[0]] = message_row(r)
                for r in conn.execute(sql.SELECT_PARTS_FOR_UPDATE.format(marks), chunk):
                    parts.setdefault(r[0], []).append(part_row(r))
            planned = plan_message_changes(transitions, messages, parts)
            message_rows = [p.update_row() for p in planned]
            _run(
                conn,
                multirow.updates(
                    sql.UPDATE_MESSAGES_FROM_VALUES,
                    _MESSAGE_GROUP,
                    message_rows,
                    sql.message_update_key,
                ),
            )
            queue_status_events(conn, planned, messages, now)
            receipts = plan_esme_receipts(transitions, messages, parts, planned, now)
            taken, left = split_taken(receipts, take)
            _run(conn, multirow.inserts(sql.INSERT_OUTBOX_RECEIPT, left))
            items = [
                sql.outbox_item(r)
                for statement, params in multirow.inserts(sql.INSERT_OUTBOX_RECEIPT_TAKEN, taken)
                for r in conn.execute(statement, params).fetchall()
            ]
            return AppliedUpdates([p.change for p in planned], items, len(left))

        return await self._write(run, inline=len(updates) <= _INLINE_MAX_ROWS)

    async def find_parts_by_upstream_ids(
        self, connector: str, upstream_ids: Sequence[str]
    ) -> dict[str, PartKey]:
        def run(conn: sqlite3.Connection) -> dict[str, PartKey]:
            found: dict[str, PartKey] = {}
            for chunk in _chunks(list(upstream_ids)):
                cursor = conn.execute(
                    "SELECT upstream_id, message_id, seq FROM parts WHERE connector = ?"
                    f" AND upstream_id IN ({sql.in_list(len(chunk))})",
                    (connector, *chunk),
                )
                for upstream_id, message_id, seq in cursor:
                    found[upstream_id] = PartKey(message_id, seq)
            return found

        return await self._read(run)

    async def take_for_cancel(self, *, message_id: str, node_id: str) -> list[int] | None:
        def run(conn: sqlite3.Connection) -> list[int] | None:
            taken = [r[0] for r in conn.execute(sql.TAKE_FOR_CANCEL, (node_id, message_id))]
            blocked = conn.execute(sql.NOT_CANCELLABLE, (message_id, node_id)).fetchone()[0]
            if blocked:
                conn.executemany(sql.UNTAKE, [(message_id, seq, node_id) for seq in taken])
                return None
            return taken

        return await self._write(run)

    async def untake(self, *, message_id: str, seqs: Sequence[int], node_id: str) -> None:
        rows = [(message_id, seq, node_id) for seq in seqs]
        if rows:
            await self._write(lambda c: c.executemany(sql.UNTAKE, rows))

    async def replace_pending(
        self,
        *,
        account_id: str,
        message_id: str,
        udh: bytes,
        payload: bytes,
        body: str,
        send_at: float | None,
        expires_at: float | None,
        now: float,
    ) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            changed = conn.execute(
                sql.REPLACE_PENDING_PART,
                (udh, payload, send_at, now, message_id, message_id, account_id),
            ).rowcount
            if changed:
                conn.execute(
                    sql.REPLACE_PENDING_MESSAGE, (body, send_at, expires_at, now, message_id)
                )
            return bool(changed)

        return await self._write(run)

    # -- parked receipts --------------------------------------------------------------------

    async def park_receipts(self, rows: Sequence[ParkedReceipt]) -> None:
        values = [
            (r.connector, r.upstream_id, r.status, r.raw_state, r.error_code, r.received_at)
            for r in rows
        ]
        await self._write(lambda c: c.executemany(sql.PARK_RECEIPT, values))

    async def match_parked(self, *, limit: int) -> list[tuple[ParkedReceipt, PartKey]]:
        rows = await self._read(lambda c: c.execute(sql.MATCH_PARKED, (limit,)).fetchall())
        return [
            (ParkedReceipt(r[0], r[1], r[2], r[3], r[4], 0.0), PartKey(r[5], r[6])) for r in rows
        ]

    async def unpark(self, keys: Sequence[tuple[str, str]]) -> None:
        if keys:
            await self._write(lambda c: c.executemany(sql.UNPARK, list(keys)))

    async def expire_parked(self, *, older_than: float, keep: int = 1_000_000) -> int:
        def run(c: sqlite3.Connection) -> int:
            expired = c.execute(sql.EXPIRE_PARKED, (older_than,)).rowcount
            return int(expired + c.execute(sql.TRIM_PARKED, (keep - 1,)).rowcount)

        return await self._write(run)

    # -- inbound ----------------------------------------------------------------------------

    async def add_number(self, *, number: str, account_id: str, now: float) -> None:
        await self._write(lambda c: c.execute(sql.INSERT_NUMBER, (number, account_id, now)))

    async def add_inbound_part(
        self, part: InboundPart, *, assemble: Assemble, mo_ttl: float
    ) -> InboundRecord | None:
        def run(conn: sqlite3.Connection) -> InboundRecord | None:
            if part.concat is None or part.concat[1] <= 1:
                return _store_inbound(conn, assemble([part], False), mo_ttl)
            reference, total, _ = part.concat
            key = (part.source, part.destination, reference, total)
            window = part.received_at - sql.ASSEMBLED_WINDOW
            if conn.execute(sql.RECENTLY_ASSEMBLED, (*key, window)).fetchone():
                return None  # a resent part of a message already delivered
            conn.execute(sql.INSERT_INBOUND_PART, sql.inbound_part_row(part))
            rows = conn.execute(sql.SELECT_INBOUND_PARTS, key).fetchall()
            if len(rows) < total:
                return None
            conn.execute(sql.DELETE_INBOUND_PARTS, key)
            conn.execute(sql.MARK_ASSEMBLED, (*key, part.received_at))
            return _store_inbound(
                conn, assemble([sql.inbound_part(r) for r in rows], False), mo_ttl
            )

        return await self._write(run)

    async def expire_inbound_parts(
        self, *, older_than: float, assemble: Assemble, mo_ttl: float
    ) -> list[InboundRecord]:
        def run(conn: sqlite3.Connection) -> list[InboundRecord]:
            conn.execute(sql.FORGET_ASSEMBLED, (older_than - sql.ASSEMBLED_WINDOW,))
            records = []
            for key in conn.execute(sql.STALE_INBOUND_KEYS, (older_than,)).fetchall():
                rows = conn.execute(sql.SELECT_INBOUND_PARTS, tuple(key)).fetchall()
                conn.execute(sql.DELETE_INBOUND_PARTS, tuple(key))
                parts = [sql.inbound_part(r) for r in rows]
                records.append(_store_inbound(conn, assemble(parts, True), mo_ttl))
            return records

        return await self._write(run)

    async def list_inbound(
        self, *, account_id: str, limit: int, before: float | None = None
    ) -> list[InboundRecord]:
        rows = await self._read(
            lambda c: c.execute(
                f"SELECT {sql.INBOUND_COLUMNS} FROM inbound WHERE account_id = ?"
                " AND (? IS NULL OR received_at < ?) ORDER BY received_at DESC LIMIT ?",
                (account_id, before, before, limit),
            ).fetchall()
        )
        return [sql.inbound_record(r) for r in rows]

    # -- SMPP server ------------------------------------------------------------------------

    async def add_smpp_credential(self, credential: SmppCredential, *, now: float) -> None:
        row = sql.credential_row(credential, now)
        await self._write(lambda c: c.execute(sql.INSERT_CREDENTIAL, row))

    async def smpp_credential(self, system_id: str) -> SmppCredential | None:
        row = await self._read(lambda c: c.execute(sql.SELECT_CREDENTIAL, (system_id,)).fetchone())
        return None if row is None else sql.credential(row)

    async def claim_outbox(
        self, *, node_id: str, system_ids: Sequence[str], limit: int, now: float, lease: float
    ) -> list[OutboxItem]:
        if not system_ids:
            return []

        def run(conn: sqlite3.Connection) -> list[OutboxItem]:
            rows = conn.execute(
                f"SELECT {sql.OUTBOX_COLUMNS} FROM smpp_outbox"
                f" WHERE system_id IN ({sql.in_list(len(system_ids))})"
                " AND (owner IS NULL OR lease_until < ?) AND expires_at > ? ORDER BY id LIMIT ?",
                (*system_ids, now, now, limit),
            ).fetchall()
            conn.execute(
                "UPDATE smpp_outbox SET owner = ?, lease_until = ?, attempts = attempts + 1"
                f" WHERE id IN {_IDS_IN_JSON}",
                (node_id, now + lease, json.dumps([r[0] for r in rows])),
            )
            # Report attempts including this one, as PostgreSQL's RETURNING does.
            return [sql.outbox_item((*r[:11], r[11] + 1, *r[12:])) for r in rows]

        return await self._write(run, inline=limit <= _INLINE_MAX_ROWS)

    async def complete_outbox(self, ids: Sequence[int]) -> None:
        if ids:
            listed = (json.dumps(list(ids)),)
            await self._write(
                lambda c: c.execute(f"DELETE FROM smpp_outbox WHERE id IN {_IDS_IN_JSON}", listed),
                inline=len(ids) <= _INLINE_MAX_ROWS,
            )

    async def release_outbox(self, ids: Sequence[int]) -> None:
        if ids:
            listed = (json.dumps(list(ids)),)
            await self._write(
                lambda c: c.execute(
                    "UPDATE smpp_outbox SET owner = NULL, lease_until = NULL"
                    f" WHERE id IN {_IDS_IN_JSON}",
                    listed,
                )
            )

    async def release_outbox_owned(self, *, node_id: str) -> int:
        return await self._write(lambda c: c.execute(sql.RELEASE_OUTBOX_OWNED, (node_id,)).rowcount)

    async def expire_outbox(self, *, now: float) -> int:
        return await self._write(lambda c: c.execute(sql.EXPIRE_OUTBOX, (now,)).rowcount)


def _store_inbound(conn: sqlite3.Connection, record: InboundRecord, mo_ttl: float) -> InboundRecord:
    """Insert an assembled MO for the account owning its number, owed to that account's ESME."""
    owner = conn.execute(sql.ACCOUNT_FOR_NUMBER, (record.destination,)).fetchone()
    record = dataclasses.replace(record, account_id=owner[0] if owner else None)
    conn.execute(sql.INSERT_INBOUND, sql.inbound_row(record))
    apply_inbound_keyword(conn, record)
    queue_inbound_event(conn, record)
    if record.account_id is not None:
        system = conn.execute(sql.FIRST_SYSTEM_ID, (record.account_id,)).fetchone()
        if system is not None:
            conn.execute(sql.INSERT_OUTBOX_MO, sql.outbox_mo_row(system[0], record, mo_ttl))
    return record


# A writer lock wait this long is logged: another process (a worker, a CLI command) held it.
_LONG_LOCK_WAIT = 5.0


def _open_write_lock(db_path: str) -> int:
    """The lock file next to the database, with the database file's mode and owner, as SQLite
    gives its -wal and -shm files: whoever may open the database may take the lock (flock needs
    no write access), even when root made the file for a CLI command under a narrow umask."""
    db = os.stat(db_path)
    mode = db.st_mode & 0o666
    fd = os.open(f"{db_path}-writer.lock", os.O_RDONLY | os.O_CREAT, mode)
    try:
        lock = os.fstat(fd)
        if lock.st_uid == os.geteuid() and lock.st_mode & 0o777 != mode:
            os.fchmod(fd, mode)  # the umask narrowed it
        if os.geteuid() == 0 and (lock.st_uid, lock.st_gid) != (db.st_uid, db.st_gid):
            os.fchown(fd, db.st_uid, db.st_gid)
    except OSError as exc:  # a file system without modes or owners (vfat, root-squashed NFS)
        log.warning("could not give %s-writer.lock the database's mode or owner: %s", db_path, exc)
    return fd


def _roll_back(conn: sqlite3.Connection) -> None:
    """Roll back after an error, unless SQLite already has; a failing ROLLBACK is logged, not
    raised over the error that led to it."""
    if not conn.in_transaction:
        return
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error:
        log.exception("ROLLBACK failed; the SQLite writer connection is still in a transaction")


def _take_write_lock(lock: int) -> None:
    """Wait for the writer lock. Unbounded, unlike SQLite's busy timeout: writes queue behind a
    process that holds it (intake's queue is bounded and answers "full" meanwhile), and a wait
    long enough to matter is logged when it ends."""
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        pass
    started = time.monotonic()
    fcntl.flock(lock, fcntl.LOCK_EX)  # blocks with the GIL released
    waited = time.monotonic() - started
    if waited >= _LONG_LOCK_WAIT:
        log.warning("waited %.1f s for the SQLite writer lock held by another process", waited)


# Outbox ids as one JSON array parameter: one statement (one sqlite3_step, one wait for the GIL
# on the writer thread) for a whole batch, instead of one per id; ids are integers, which JSON
# carries exactly.
_IDS_IN_JSON = "(SELECT value FROM json_each(?))"


_PART_GROUP = multirow.group(sql.UPDATE_PART.count("?"))
_MESSAGE_GROUP = multirow.group(sql.UPDATE_MESSAGE.count("?"))


def _run(conn: sqlite3.Connection, statements: multirow.Statements) -> None:
    for statement, params in statements:
        conn.execute(statement, params)


def _chunks(items: list[Any]) -> list[list[Any]]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]
