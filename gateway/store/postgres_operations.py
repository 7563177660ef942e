"""PostgreSQL side of the operator queries (`operations_sql`): a mixin `PostgresStore`
inherits, using its pool."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import asyncpg

from gateway.domain import PartKey, Status
from gateway.store import operations_sql as ops
from gateway.store import sql
from gateway.store.lifecycle import MessageRow, PartRow, message_row, part_row
from gateway.store.operations_sql import MessageDetail, QueueLane

_N = sql.numbered

# Taken with SKIP LOCKED, as dispatch claims: a node claiming at the same moment neither waits
# for these rows nor gets them.
_CLAIM_STALE_QUEUED = f"""
WITH stale AS ({_N(ops.STALE_QUEUED).rstrip()} FOR UPDATE OF p SKIP LOCKED)
UPDATE parts p SET owner = $4 FROM stale
WHERE p.message_id = stale.message_id AND p.seq = stale.seq
RETURNING p.message_id, p.seq
"""
_STUCK = {s: _N(ops.stuck_query(s)) for s in (Status.SUBMITTED, Status.FAILED)}
# One statement for the whole page (REQUEUE_PART's guard and SET, keys as arrays).
_REQUEUE = """
UPDATE parts p SET status = 'queued', status_rank = $1, owner = NULL, due_at = $2, attempts = 0,
    error_code = NULL, error_detail = NULL, submitted_at = NULL, done_at = NULL, updated_at = $3
FROM unnest($4::text[], $5::int[]) AS k(message_id, seq)
WHERE p.message_id = k.message_id AND p.seq = k.seq AND p.status IN ('submitted', 'failed')
"""
_ANY = "= ANY($1::text[])"
# Locked before the parts are read, as the status write locks them (gateway.store.postgres):
# a status write finishing another part of the message at the same moment would otherwise
# aggregate from a view without this requeue, and this one from a view without it.
_MESSAGES = (
    sql.SELECT_MESSAGES_FOR_UPDATE.replace("IN ({})", _ANY) + " ORDER BY id FOR NO KEY UPDATE"
)
_PARTS = sql.SELECT_PARTS_FOR_UPDATE.replace("IN ({})", _ANY)


class PostgresOperations:
    """Needs `pool` from `PostgresStore`."""

    if TYPE_CHECKING:

        @property
        def pool(self) -> asyncpg.Pool: ...

    async def queue_lanes(self, *, now: float) -> list[QueueLane]:
        rows = await self.pool.fetch(_N(ops.QUEUE_LANES), now, now)
        return [ops.queue_lane(r) for r in rows]

    async def message_detail(self, message_id: str) -> MessageDetail | None:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(_N(ops.SELECT_MESSAGE_DETAIL), message_id)
            if row is None:
                return None
            parts = await conn.fetch(_N(ops.SELECT_PART_DETAILS), message_id)
        return ops.message_detail(row, parts)

    async def stuck_parts(
        self,
        *,
        status: Status,
        before: float,
        now: float,
        connector: str | None,
        after: PartKey | None,
        limit: int,
    ) -> list[PartKey]:
        params = ops.stuck_params(
            status, before=before, now=now, connector=connector, after=after, limit=limit
        )
        rows = await self.pool.fetch(_STUCK[status], *params)
        return [PartKey(r[0], r[1]) for r in rows]

    async def claim_stale_queued(
        self, *, node_id: str, before: float, connector: str | None, limit: int
    ) -> list[PartKey]:
        rows = await self.pool.fetch(_CLAIM_STALE_QUEUED, before, connector, limit, node_id)
        return [PartKey(r[0], r[1]) for r in rows]

    async def requeue_parts(self, keys: Sequence[PartKey], *, now: float) -> int:
        message_ids = list(dict.fromkeys(k.message_id for k in keys))
        async with self.pool.acquire() as conn, conn.transaction():
            status = await conn.execute(
                _REQUEUE,
                Status.QUEUED.rank,
                now,
                now,
                [k.message_id for k in keys],
                [k.seq for k in keys],
            )
            messages: dict[str, MessageRow] = {
                r[0]: message_row(r) for r in await conn.fetch(_MESSAGES, message_ids)
            }
            parts: dict[str, list[PartRow]] = {}
            for r in await conn.fetch(_PARTS, message_ids):
                parts.setdefault(r[0], []).append(part_row(r))
            rows = ops.plan_requeued_messages(messages, parts, now)
            if rows:
                await conn.executemany(_N(ops.SET_MESSAGE_STATUS), rows)
        return int(status.split()[-1])
