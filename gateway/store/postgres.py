"""PostgreSQL store (asyncpg): the production store, shared by every gateway node.

Claims use `FOR UPDATE SKIP LOCKED`, so nodes taking work at the same moment never block on or
double-claim the same parts. Batch writes use `executemany`, which asyncpg pipelines: a group of
messages costs a few round trips, not a few per message. Migrations run under an advisory lock so
nodes starting together apply each one exactly once.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

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
from gateway.store import accounts_sql, postgres_arrays, sql
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
from gateway.store.postgres_accounts import PostgresAccountsMixin
from gateway.store.postgres_batches import PostgresBatches
from gateway.store.postgres_connectors import PostgresConnectors
from gateway.store.postgres_events import (
    PostgresEvents,
    queue_inbound_event,
    queue_status_events,
)
from gateway.store.postgres_operations import PostgresOperations
from gateway.store.postgres_optout import PostgresOptOut, apply_inbound_keyword

_N = sql.numbered
_MIGRATION_LOCK = 0x5D5_6A7E  # any constant shared by every node

_CLAIM_EXPIRED = f"""
WITH due AS ({_N(sql.SELECT_EXPIRED_PARTS).rstrip()} FOR UPDATE OF p SKIP LOCKED)
UPDATE parts p SET owner = $3 FROM due
WHERE p.message_id = due.message_id AND p.seq = due.seq
RETURNING p.message_id, p.seq
"""

_CLAIM = """
WITH due AS (
    SELECT message_id, seq FROM parts
    WHERE status = 'queued' AND owner IS NULL AND due_at <= $1
    ORDER BY priority, due_at, message_id, seq
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE parts p SET owner = $3 FROM due
    WHERE p.message_id = due.message_id AND p.seq = due.seq
    RETURNING p.*
)
SELECT c.message_id, c.seq, c.total, m.account_id, m.source, m.destination, c.encoding,
    c.data_coding, c.udh, c.payload, c.connector, c.priority, m.registered_delivery, c.attempts,
    m.expires_at
FROM claimed c JOIN messages m ON m.id = c.message_id
ORDER BY c.priority, c.due_at, c.message_id, c.seq
"""

# The same for one priority lane.
_CLAIM_OF_PRIORITY = _CLAIM.replace("due_at <= $1\n", "due_at <= $1 AND priority = $4\n", 1)


# Rows by a batch of keys: joined to unnest() rather than filtered by `= ANY($1)`. A prepared
# statement keeps the plan made while its table was small, and with no ANALYZE (a new table, or
# autovacuum off) nothing replaces it: `id = ANY($1)` then stays a sequential scan comparing
# every row, dead versions included, with every key, O(rows x keys): the status writer's
# read-back grew to seconds and ESME receipts fell minutes behind. Joined, the worst such a
# plan does is one pass over the table (a hash join), and in a `_probing` transaction it is a
# probe per key.
_MESSAGES_BY_IDS = sql.SELECT_MESSAGES_FOR_UPDATE.replace(
    "FROM messages WHERE id IN ({})",
    "FROM unnest($1::text[]) AS k(key) JOIN messages ON id = k.key",
)
# Messages of several parts are locked, in id order, before their parts are read: two nodes
# finishing different parts of one message at once would otherwise each see only their own
# part final (READ COMMITTED) and leave the message unfinished for ever. The second waits here
# for the first's commit, then reads both parts final. A one-part message needs no lock: two
# writes to it update the same part row, and the second waits on that row already. (SQLite
# has one writer at a time.) NO KEY UPDATE, as an UPDATE of the row takes: FOR UPDATE would
# also conflict with the KEY SHARE lock that inserting a part (its foreign key) takes on its
# message, and an intake commit adding parts to two messages could then deadlock with this.
_LOCK_MESSAGES_BY_IDS = _MESSAGES_BY_IDS + " ORDER BY messages.id FOR NO KEY UPDATE OF messages"
_PARTS_BY_MESSAGE_IDS = sql.SELECT_PARTS_FOR_UPDATE.replace(
    "FROM parts WHERE message_id IN ({})",
    "FROM unnest($1::text[]) AS k(key) JOIN parts ON message_id = k.key",
)


_PARTS_BY_UPSTREAM_IDS = (
    "SELECT p.upstream_id, p.message_id, p.seq FROM unnest($2::text[]) AS k(upstream_id)"
    " JOIN parts p ON p.connector = $1 AND p.upstream_id = k.upstream_id"
)
# The leased ids as an array that the UPDATE finds by primary key: joined to a CTE instead,
# the planner hashed the batch and read the whole outbox for it.
_CLAIM_OUTBOX = f"""
UPDATE smpp_outbox o SET owner = $4, lease_until = $5, attempts = o.attempts + 1
WHERE o.id = ANY(ARRAY(
    SELECT id FROM smpp_outbox
    WHERE system_id = ANY($1::text[]) AND (owner IS NULL OR lease_until < $2)
      AND expires_at > $2
    ORDER BY id LIMIT $3
    FOR UPDATE SKIP LOCKED
))
RETURNING {", ".join("o." + c.strip() for c in sql.OUTBOX_COLUMNS.split(","))}
"""
_DELETE_OUTBOX = "DELETE FROM smpp_outbox o USING unnest($1::bigint[]) AS k(id) WHERE o.id = k.id"
_RELEASE_OUTBOX = (
    "UPDATE smpp_outbox o SET owner = NULL, lease_until = NULL"
    " FROM unnest($1::bigint[]) AS k(id) WHERE o.id = k.id"
)

# Element types of the arrays the batch writes bind, by column (`postgres_arrays`); the names
# are the tables' columns, and rank_below the guard of a status update.
_ARRAY_TYPES = postgres_arrays.types(
    """
    text: id account_id client_ref source destination body encoding message_type status
        origin_system_id batch_id message_id connector owner system_id receipted_id error_code
        error_detail text upstream_id raw_state
    int4: segments status_rank esme_receipt parts seq total data_coding priority attempts
        rank_below
    float8: created_at updated_at send_at expires_at price due_at submitted_at done_at
        lease_until
    bool: registered_delivery
    bytea: udh payload
    """
)
_INSERT_MESSAGES = postgres_arrays.insert(sql.INSERT_MESSAGE, _ARRAY_TYPES)
_INSERT_PARTS = postgres_arrays.insert(sql.INSERT_PART, _ARRAY_TYPES)
_INSERT_OUTBOX_RECEIPTS = postgres_arrays.insert(sql.INSERT_OUTBOX_RECEIPT, _ARRAY_TYPES)
_INSERT_OUTBOX_RECEIPTS_TAKEN = postgres_arrays.insert(
    sql.INSERT_OUTBOX_RECEIPT_TAKEN, _ARRAY_TYPES
)
_UPDATE_PARTS = postgres_arrays.update(sql.UPDATE_PARTS_FROM_VALUES, _ARRAY_TYPES)
_UPDATE_MESSAGES = postgres_arrays.update(sql.UPDATE_MESSAGES_FROM_VALUES, _ARRAY_TYPES)


class PostgresStore(
    PostgresConnectors,
    PostgresBatches,
    PostgresOptOut,
    PostgresOperations,
    PostgresEvents,
    PostgresAccountsMixin,
):
    dialect = "postgres"

    def __init__(
        self, dsn: str, *, schema: str | None = None, pool_size: int = 10, usage_shard: int = 0
    ) -> None:
        self.dsn = dsn
        self.schema = schema
        self.pool_size = pool_size
        self.usage_shard = usage_shard  # its rows in account_usage_shards (usage_shard())
        self._pool: asyncpg.Pool | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "store not open"
        return self._pool

    async def open(self) -> None:
        settings = {}
        if self.schema:
            conn = await asyncpg.connect(self.dsn)
            try:
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            finally:
                await conn.close()
            settings["search_path"] = self.schema
        self._pool = await asyncpg.create_pool(
            self.dsn, min_size=1, max_size=self.pool_size, server_settings=settings
        )

    @contextlib.asynccontextmanager
    async def _probing(self) -> AsyncIterator[PoolConnectionProxy]:
        """A transaction whose joins to a batch of keys probe an index for each key
        (`postgres_arrays.INDEX_PROBES`): for the statements that run on every batch of
        receipts and status updates, which would otherwise read whole tables."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(postgres_arrays.INDEX_PROBES)
            yield conn

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def ping(self) -> None:
        await self.pool.fetchval("SELECT 1")

    async def maintenance_warnings(self) -> list[str]:
        if await self.pool.fetchval("SELECT current_setting('autovacuum')") == "on":
            return []
        return [
            "PostgreSQL runs with autovacuum off: nothing vacuums or analyzes the gateway's "
            "tables, so status updates, claims and receipts slow down as they grow; set "
            "autovacuum = on, or run VACUUM ANALYZE regularly"
        ]

    async def migrate(self) -> list[int]:
        applied: list[int] = []
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations"
                " (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            done = {r[0] for r in await conn.fetch("SELECT version FROM schema_migrations")}
            for version, text in load_migrations(self.dialect):
                if version in done:
                    continue
                for statement in split_statements(text):
                    await conn.execute(statement)
                await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
                applied.append(version)
        return applied

    # -- accounts ---------------------------------------------------------------------------

    async def create_account(self, *, account_id: str, name: str, now: float) -> Account:
        await self.pool.execute(
            "INSERT INTO accounts (id, name, created_at) VALUES ($1, $2, $3)", account_id, name, now
        )
        return Account(id=account_id, name=name)

    async def get_account_by_name(self, name: str) -> Account | None:
        row = await self.pool.fetchrow(
            "SELECT id, name, active FROM accounts WHERE name = $1", name
        )
        return None if row is None else Account(id=row[0], name=row[1], active=row[2])

    async def add_api_key(self, *, account_id: str, key_hash: str, prefix: str, now: float) -> None:
        await self.pool.execute(
            "INSERT INTO api_keys (key_hash, account_id, prefix, created_at)"
            " VALUES ($1, $2, $3, $4)",
            key_hash,
            account_id,
            prefix,
            now,
        )

    async def api_keys_with_prefix(self, prefix: str) -> list[tuple[str, Account]]:
        rows = await self.pool.fetch(
            "SELECT k.key_hash, a.id, a.name, a.active FROM api_keys k JOIN accounts a"
            " ON a.id = k.account_id WHERE k.prefix = $1 AND k.revoked_at IS NULL",
            prefix,
        )
        return [(r[0], Account(id=r[1], name=r[2], active=r[3])) for r in rows]

    # -- intake -----------------------------------------------------------------------------

    async def insert_messages(self, messages: Sequence[NewMessage], *, owner: str | None) -> None:
        message_rows = [sql.message_row(m) for m in messages if not m.continuation]
        part_rows = [row for m in messages for row in sql.part_rows(m, owner)]
        bodies = sql.continuation_bodies(messages)
        async with self.pool.acquire() as conn, conn.transaction():
            await postgres_arrays.execute(conn, _INSERT_MESSAGES, message_rows)
            await postgres_arrays.execute(conn, _INSERT_PARTS, part_rows)
            if bodies:
                await conn.executemany(_N(sql.SET_BODY), bodies)
            await conn.executemany(
                _N(accounts_sql.UPSERT_USAGE), accounts_sql.usage_rows(messages, self.usage_shard)
            )

    async def get_message(self, *, account_id: str, message_id: str) -> MessageRecord | None:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(_N(sql.SELECT_MESSAGE), message_id, account_id)
            if row is None:
                return None
            parts = await conn.fetch(_N(sql.SELECT_PART_VIEWS), message_id)
        return sql.message_record(row, parts)

    # -- dispatch ---------------------------------------------------------------------------

    async def claim_parts(
        self, *, node_id: str, limit: int, now: float, priority: int | None = None
    ) -> list[PartRecord]:
        if priority is None:
            rows = await self.pool.fetch(_CLAIM, now, limit, node_id)
        else:
            rows = await self.pool.fetch(_CLAIM_OF_PRIORITY, now, limit, node_id, priority)
        return [sql.part_record(r) for r in rows]

    async def claim_expired(self, *, node_id: str, limit: int, now: float) -> list[PartKey]:
        rows = await self.pool.fetch(_CLAIM_EXPIRED, now, limit, node_id)
        return [PartKey(r[0], r[1]) for r in rows]

    async def release_owned(self, *, node_id: str) -> int:
        return _count(await self.pool.execute(_N(sql.RELEASE_OWNED), node_id))

    async def heartbeat(self, *, node_id: str, now: float) -> None:
        await self.pool.execute(_N(sql.UPSERT_HEARTBEAT), node_id, now)

    async def release_stale(self, *, now: float, ttl: float) -> int:
        return _count(await self.pool.execute(_N(sql.RELEASE_STALE), now - ttl))

    # -- status writer ----------------------------------------------------------------------

    async def apply_updates(self, updates: Sequence[PartUpdate]) -> list[StatusChange]:
        return (await self.apply_updates_and_take(updates, None)).changes

    async def apply_updates_and_take(
        self, updates: Sequence[PartUpdate], take: OutboxTake | None
    ) -> AppliedUpdates:
        retries = [sql.retry_part_row(u) for u in updates if u.retry_at is not None]
        transitions = [u for u in updates if u.retry_at is None]
        message_ids = list(dict.fromkeys(u.message_id for u in transitions))
        now = max((u.at for u in updates), default=0.0)
        async with self._probing() as conn:
            if retries:
                await conn.executemany(_N(sql.RETRY_PART), retries)
            if not transitions:
                return AppliedUpdates([], [], 0)
            await postgres_arrays.execute_updates(
                conn,
                _UPDATE_PARTS,
                [sql.update_part_row(u) for u in transitions],
                sql.part_update_key,
            )
            messages: dict[str, MessageRow] = {
                r[0]: message_row(r) for r in await conn.fetch(_MESSAGES_BY_IDS, message_ids)
            }
            several = [m.id for m in messages.values() if m.segments > 1]
            if several:  # locked, then read again as they are once the lock is ours
                for r in await conn.fetch(_LOCK_MESSAGES_BY_IDS, several):
                    messages[r[0]] = message_row(r)
            parts: dict[str, list[PartRow]] = {}
            for r in await conn.fetch(_PARTS_BY_MESSAGE_IDS, message_ids):
                parts.setdefault(r[0], []).append(part_row(r))
            planned = plan_message_changes(transitions, messages, parts)
            if planned:
                await postgres_arrays.execute_updates(
                    conn,
                    _UPDATE_MESSAGES,
                    [p.update_row() for p in planned],
                    sql.message_update_key,
                )
                await queue_status_events(conn, planned, messages, now)
            receipts = plan_esme_receipts(transitions, messages, parts, planned, now)
            taken, left = split_taken(receipts, take)
            await postgres_arrays.execute(conn, _INSERT_OUTBOX_RECEIPTS, left)
            rows = await postgres_arrays.fetch(conn, _INSERT_OUTBOX_RECEIPTS_TAKEN, taken)
        return AppliedUpdates(
            [p.change for p in planned], [sql.outbox_item(r) for r in rows], len(left)
        )

    async def find_parts_by_upstream_ids(
        self, connector: str, upstream_ids: Sequence[str]
    ) -> dict[str, PartKey]:
        async with self._probing() as conn:
            rows = await conn.fetch(_PARTS_BY_UPSTREAM_IDS, connector, list(upstream_ids))
        return {r[0]: PartKey(r[1], r[2]) for r in rows}

    async def take_for_cancel(self, *, message_id: str, node_id: str) -> list[int] | None:
        async with self.pool.acquire() as conn, conn.transaction():
            taken = [r[0] for r in await conn.fetch(_N(sql.TAKE_FOR_CANCEL), node_id, message_id)]
            blocked = await conn.fetchval(_N(sql.NOT_CANCELLABLE), message_id, node_id)
            if blocked:
                await conn.executemany(_N(sql.UNTAKE), [(message_id, s, node_id) for s in taken])
                return None
        return taken

    async def untake(self, *, message_id: str, seqs: Sequence[int], node_id: str) -> None:
        if seqs:
            await self.pool.executemany(
                _N(sql.UNTAKE), [(message_id, seq, node_id) for seq in seqs]
            )

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
        async with self.pool.acquire() as conn, conn.transaction():
            changed = _count(
                await conn.execute(
                    _N(sql.REPLACE_PENDING_PART),
                    udh,
                    payload,
                    send_at,
                    now,
                    message_id,
                    message_id,
                    account_id,
                )
            )
            if changed:
                await conn.execute(
                    _N(sql.REPLACE_PENDING_MESSAGE), body, send_at, expires_at, now, message_id
                )
        return bool(changed)

    # -- parked receipts --------------------------------------------------------------------

    async def park_receipts(self, rows: Sequence[ParkedReceipt]) -> None:
        await self.pool.executemany(
            _N(sql.PARK_RECEIPT),
            [
                (r.connector, r.upstream_id, r.status, r.raw_state, r.error_code, r.received_at)
                for r in rows
            ],
        )

    async def match_parked(self, *, limit: int) -> list[tuple[ParkedReceipt, PartKey]]:
        rows = await self.pool.fetch(_N(sql.MATCH_PARKED), limit)
        return [
            (ParkedReceipt(r[0], r[1], r[2], r[3], r[4], 0.0), PartKey(r[5], r[6])) for r in rows
        ]

    async def unpark(self, keys: Sequence[tuple[str, str]]) -> None:
        if keys:
            await self.pool.executemany(_N(sql.UNPARK), list(keys))

    async def expire_parked(self, *, older_than: float, keep: int = 1_000_000) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            expired = _count(await conn.execute(_N(sql.EXPIRE_PARKED), older_than))
            return expired + _count(await conn.execute(_N(sql.TRIM_PARKED), keep - 1))

    # -- inbound ----------------------------------------------------------------------------

    async def add_number(self, *, number: str, account_id: str, now: float) -> None:
        await self.pool.execute(_N(sql.INSERT_NUMBER), number, account_id, now)

    async def add_inbound_part(
        self, part: InboundPart, *, assemble: Assemble, mo_ttl: float
    ) -> InboundRecord | None:
        async with self.pool.acquire() as conn, conn.transaction():
            if part.concat is None or part.concat[1] <= 1:
                return await _store_inbound(conn, assemble([part], False), mo_ttl)
            reference, total, _ = part.concat
            key = (part.source, part.destination, reference, total)
            # The last two parts of a message arriving at once (on two binds or nodes) would
            # each see only its own row under READ COMMITTED: serialise per message first.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", repr(key))
            window = part.received_at - sql.ASSEMBLED_WINDOW
            if await conn.fetchval(_N(sql.RECENTLY_ASSEMBLED), *key, window):
                return None  # a resent part of a message already delivered
            await conn.execute(_N(sql.INSERT_INBOUND_PART), *sql.inbound_part_row(part))
            rows = await conn.fetch(_N(sql.SELECT_INBOUND_PARTS), *key)
            if len(rows) < total:
                return None
            await conn.execute(_N(sql.DELETE_INBOUND_PARTS), *key)
            await conn.execute(_N(sql.MARK_ASSEMBLED), *key, part.received_at)
            parts = [sql.inbound_part(r) for r in rows]
            return await _store_inbound(conn, assemble(parts, False), mo_ttl)

    async def expire_inbound_parts(
        self, *, older_than: float, assemble: Assemble, mo_ttl: float
    ) -> list[InboundRecord]:
        records = []
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(_N(sql.FORGET_ASSEMBLED), older_than - sql.ASSEMBLED_WINDOW)
            for key in await conn.fetch(_N(sql.STALE_INBOUND_KEYS), older_than):
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", repr(tuple(key)))
                rows = await conn.fetch(_N(sql.SELECT_INBOUND_PARTS), *key)
                await conn.execute(_N(sql.DELETE_INBOUND_PARTS), *key)
                if rows:
                    parts = [sql.inbound_part(r) for r in rows]
                    records.append(await _store_inbound(conn, assemble(parts, True), mo_ttl))
        return records

    async def list_inbound(
        self, *, account_id: str, limit: int, before: float | None = None
    ) -> list[InboundRecord]:
        rows = await self.pool.fetch(
            f"SELECT {sql.INBOUND_COLUMNS} FROM inbound WHERE account_id = $1"
            " AND ($2::double precision IS NULL OR received_at < $2)"
            " ORDER BY received_at DESC LIMIT $3",
            account_id,
            before,
            limit,
        )
        return [sql.inbound_record(r) for r in rows]

    # -- SMPP server ------------------------------------------------------------------------

    async def add_smpp_credential(self, credential: SmppCredential, *, now: float) -> None:
        await self.pool.execute(_N(sql.INSERT_CREDENTIAL), *sql.credential_row(credential, now))

    async def smpp_credential(self, system_id: str) -> SmppCredential | None:
        row = await self.pool.fetchrow(_N(sql.SELECT_CREDENTIAL), system_id)
        return None if row is None else sql.credential(row)

    async def claim_outbox(
        self, *, node_id: str, system_ids: Sequence[str], limit: int, now: float, lease: float
    ) -> list[OutboxItem]:
        if not system_ids:
            return []
        rows = await self.pool.fetch(
            _CLAIM_OUTBOX,
            list(system_ids),
            now,
            limit,
            node_id,
            now + lease,
        )
        return sorted((sql.outbox_item(r) for r in rows), key=lambda item: item.id)

    async def complete_outbox(self, ids: Sequence[int]) -> None:
        if ids:
            async with self._probing() as conn:
                await conn.execute(_DELETE_OUTBOX, list(ids))

    async def release_outbox(self, ids: Sequence[int]) -> None:
        if ids:
            async with self._probing() as conn:
                await conn.execute(_RELEASE_OUTBOX, list(ids))

    async def release_outbox_owned(self, *, node_id: str) -> int:
        return _count(await self.pool.execute(_N(sql.RELEASE_OUTBOX_OWNED), node_id))

    async def expire_outbox(self, *, now: float) -> int:
        return _count(await self.pool.execute(_N(sql.EXPIRE_OUTBOX), now))


async def _store_inbound(
    conn: PoolConnectionProxy[asyncpg.Record], record: InboundRecord, mo_ttl: float
) -> InboundRecord:
    """Insert an assembled MO for the account owning its number, owed to that account's ESME."""
    owner = await conn.fetchval(_N(sql.ACCOUNT_FOR_NUMBER), record.destination)
    record = dataclasses.replace(record, account_id=owner)
    await conn.execute(_N(sql.INSERT_INBOUND), *sql.inbound_row(record))
    await apply_inbound_keyword(conn, record)
    await queue_inbound_event(conn, record)
    if owner is not None:
        system_id = await conn.fetchval(_N(sql.FIRST_SYSTEM_ID), owner)
        if system_id is not None:
            await conn.execute(
                _N(sql.INSERT_OUTBOX_MO), *sql.outbox_mo_row(system_id, record, mo_ttl)
            )
    return record


def _count(status: str) -> int:
    """Rows affected, from asyncpg's command tag ("UPDATE 3")."""
    parts: Any = status.split()
    return int(parts[-1]) if parts and parts[-1].isdigit() else 0
