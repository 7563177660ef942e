"""SQLite: batches and idempotency records (a mixin of `SqliteStore`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from gateway.domain.batches import (
    BatchSummary,
    IdempotencyRecord,
    StoredTemplate,
    SubmissionUnit,
)
from gateway.store import accounts_sql, sql
from gateway.store import batches_sql as q

T = TypeVar("T")


class SqliteBatches:
    if TYPE_CHECKING:
        usage_shard: int

        async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...
        async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...

    async def insert_submissions(
        self, units: Sequence[SubmissionUnit], *, owner: str | None
    ) -> list[bool]:
        claims = q.first_claims(units)

        def run(conn: sqlite3.Connection) -> list[bool]:
            claimed: set[tuple[str, str]] = set()
            for claim in claims:
                if claim is not None:
                    row = conn.execute(q.CLAIM_KEY, q.key_row(claim)).fetchone()
                    if row is not None:
                        claimed.add((row[0], row[1]))
            committed = q.committed_units(units, claims, claimed)
            kept = [u for u, ok in zip(units, committed, strict=True) if ok]
            conn.executemany(q.INSERT_BATCH, [q.batch_row(u.batch) for u in kept if u.batch])
            kept_messages = [m for u in kept for m in u.messages]
            messages, parts, bodies = q.message_rows(kept_messages, owner)
            conn.executemany(sql.INSERT_MESSAGE, messages)
            conn.executemany(sql.INSERT_PART, parts)
            conn.executemany(sql.SET_BODY, bodies)
            # Counted with the messages, as insert_messages does: quotas and caps see them.
            conn.executemany(
                accounts_sql.UPSERT_USAGE, accounts_sql.usage_rows(kept_messages, self.usage_shard)
            )
            return committed

        return await self._write(run)

    async def get_idempotency(
        self, *, account_id: str, key: str, now: float
    ) -> IdempotencyRecord | None:
        row = await self._read(lambda c: c.execute(q.SELECT_KEY, (account_id, key, now)).fetchone())
        return None if row is None else q.idempotency_record(row)

    async def expire_idempotency(self, *, now: float) -> int:
        return await self._write(lambda c: c.execute(q.EXPIRE_KEYS, (now,)).rowcount)

    async def get_batch(self, *, account_id: str, batch_id: str) -> BatchSummary | None:
        def run(conn: sqlite3.Connection) -> BatchSummary | None:
            row = conn.execute(q.SELECT_BATCH, (batch_id, account_id)).fetchone()
            if row is None:
                return None
            totals = conn.execute(q.BATCH_STATUS_TOTALS, (batch_id,)).fetchall()
            return q.batch_summary(q.batch(row), totals)

        return await self._read(run)

    async def put_template(
        self, *, account_id: str, name: str, text: str, now: float
    ) -> StoredTemplate:
        row = await self._write(
            lambda c: c.execute(q.PUT_TEMPLATE, (account_id, name, text, now, now)).fetchone()
        )
        return q.stored_template(row)

    async def get_template(self, *, account_id: str, name: str) -> StoredTemplate | None:
        row = await self._read(
            lambda c: c.execute(q.SELECT_TEMPLATE, (account_id, name)).fetchone()
        )
        return None if row is None else q.stored_template(row)

    async def list_templates(
        self, *, account_id: str, after: str, limit: int
    ) -> list[StoredTemplate]:
        rows = await self._read(
            lambda c: c.execute(q.LIST_TEMPLATES, (account_id, after, limit)).fetchall()
        )
        return [q.stored_template(r) for r in rows]

    async def delete_template(self, *, account_id: str, name: str) -> bool:
        deleted: int = await self._write(
            lambda c: c.execute(q.DELETE_TEMPLATE, (account_id, name)).rowcount
        )
        return deleted > 0
