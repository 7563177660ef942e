"""PostgreSQL: batches and idempotency records (a mixin of `PostgresStore`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import asyncpg

from gateway.domain.batches import (
    BatchSummary,
    IdempotencyRecord,
    StoredTemplate,
    SubmissionUnit,
)
from gateway.store import accounts_sql, sql
from gateway.store import batches_sql as q

_N = sql.numbered
# All of a commit's keys in one statement: a group of keyed requests costs one round trip.
_CLAIM_KEYS = f"""
INSERT INTO idempotency_keys (account_id, key, fingerprint, status_code, body, created_at,
    expires_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bytea[],
    $6::float8[], $7::float8[])
{q.CLAIM_KEY_CONFLICT}
"""


class PostgresBatches:
    if TYPE_CHECKING:
        usage_shard: int

        @property
        def pool(self) -> asyncpg.Pool: ...

    async def insert_submissions(
        self, units: Sequence[SubmissionUnit], *, owner: str | None
    ) -> list[bool]:
        claims = q.first_claims(units)
        keys = [q.key_row(c) for c in claims if c is not None]
        async with self.pool.acquire() as conn, conn.transaction():
            claimed: set[tuple[str, str]] = set()
            if keys:
                # A key another node's open transaction is inserting makes this wait for it:
                # of two concurrent requests with one key, exactly one writes its messages.
                columns = [list(column) for column in zip(*keys, strict=True)]
                claimed = {(r[0], r[1]) for r in await conn.fetch(_CLAIM_KEYS, *columns)}
            committed = q.committed_units(units, claims, claimed)
            kept = [u for u, ok in zip(units, committed, strict=True) if ok]
            batches = [q.batch_row(u.batch) for u in kept if u.batch]
            kept_messages = [m for u in kept for m in u.messages]
            messages, parts, bodies = q.message_rows(kept_messages, owner)
            writes: list[tuple[str, Sequence[Sequence[object]]]] = [
                (q.INSERT_BATCH, batches),
                (sql.INSERT_MESSAGE, messages),
                (sql.INSERT_PART, parts),
                (sql.SET_BODY, bodies),
                # Counted with the messages, as insert_messages does: quotas and caps see them.
                (
                    accounts_sql.UPSERT_USAGE,
                    accounts_sql.usage_rows(kept_messages, self.usage_shard),
                ),
            ]
            for statement, rows in writes:
                if rows:
                    await conn.executemany(_N(statement), rows)
        return committed

    async def get_idempotency(
        self, *, account_id: str, key: str, now: float
    ) -> IdempotencyRecord | None:
        row = await self.pool.fetchrow(_N(q.SELECT_KEY), account_id, key, now)
        return None if row is None else q.idempotency_record(row)

    async def expire_idempotency(self, *, now: float) -> int:
        status: str = await self.pool.execute(_N(q.EXPIRE_KEYS), now)
        return int(status.rsplit(maxsplit=1)[-1])

    async def get_batch(self, *, account_id: str, batch_id: str) -> BatchSummary | None:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(_N(q.SELECT_BATCH), batch_id, account_id)
            if row is None:
                return None
            totals = await conn.fetch(_N(q.BATCH_STATUS_TOTALS), batch_id)
        return q.batch_summary(q.batch(row), totals)

    async def put_template(
        self, *, account_id: str, name: str, text: str, now: float
    ) -> StoredTemplate:
        row = await self.pool.fetchrow(_N(q.PUT_TEMPLATE), account_id, name, text, now, now)
        assert row is not None  # RETURNING of an upsert always has its row
        return q.stored_template(row)

    async def get_template(self, *, account_id: str, name: str) -> StoredTemplate | None:
        row = await self.pool.fetchrow(_N(q.SELECT_TEMPLATE), account_id, name)
        return None if row is None else q.stored_template(row)

    async def list_templates(
        self, *, account_id: str, after: str, limit: int
    ) -> list[StoredTemplate]:
        rows = await self.pool.fetch(_N(q.LIST_TEMPLATES), account_id, after, limit)
        return [q.stored_template(r) for r in rows]

    async def delete_template(self, *, account_id: str, name: str) -> bool:
        return _count(await self.pool.execute(_N(q.DELETE_TEMPLATE), account_id, name)) > 0


def _count(status: str) -> int:
    """Rows affected, from asyncpg's command tag ("DELETE 3")."""
    return int(status.rsplit(maxsplit=1)[-1])
