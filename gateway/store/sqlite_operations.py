"""SQLite side of the operator queries (`operations_sql`): a mixin `SqliteStore` inherits,
running on its reader and writer threads like every other store call."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from gateway.domain import PartKey, Status
from gateway.store import operations_sql as ops
from gateway.store import sql
from gateway.store.lifecycle import MessageRow, PartRow, message_row, part_row
from gateway.store.operations_sql import MessageDetail, QueueLane

T = TypeVar("T")


class SqliteOperations:
    """Needs `_read` and `_write` from `SqliteStore`."""

    if TYPE_CHECKING:

        async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...
        async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...

    async def queue_lanes(self, *, now: float) -> list[QueueLane]:
        rows = await self._read(lambda c: c.execute(ops.QUEUE_LANES, (now, now)).fetchall())
        return [ops.queue_lane(r) for r in rows]

    async def message_detail(self, message_id: str) -> MessageDetail | None:
        def run(conn: sqlite3.Connection) -> MessageDetail | None:
            row = conn.execute(ops.SELECT_MESSAGE_DETAIL, (message_id,)).fetchone()
            if row is None:
                return None
            parts = conn.execute(ops.SELECT_PART_DETAILS, (message_id,)).fetchall()
            return ops.message_detail(row, parts)

        return await self._read(run)

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
        query = ops.stuck_query(status)
        params = ops.stuck_params(
            status, before=before, now=now, connector=connector, after=after, limit=limit
        )
        rows = await self._read(lambda c: c.execute(query, params).fetchall())
        return [PartKey(r[0], r[1]) for r in rows]

    async def claim_stale_queued(
        self, *, node_id: str, before: float, connector: str | None, limit: int
    ) -> list[PartKey]:
        def run(conn: sqlite3.Connection) -> list[PartKey]:
            rows = conn.execute(ops.STALE_QUEUED, (before, connector, limit)).fetchall()
            conn.executemany(ops.SET_OWNER_IF_FREE, [(node_id, r[0], r[1]) for r in rows])
            return [PartKey(r[0], r[1]) for r in rows]

        return await self._write(run)

    async def requeue_parts(self, keys: Sequence[PartKey], *, now: float) -> int:
        rows = ops.requeue_rows(keys, now)
        message_ids = list(dict.fromkeys(k.message_id for k in keys))

        def run(conn: sqlite3.Connection) -> int:
            changed = 0
            for row in rows:
                changed += conn.execute(ops.REQUEUE_PART, row).rowcount
            messages: dict[str, MessageRow] = {}
            parts: dict[str, list[PartRow]] = {}
            for start in range(0, len(message_ids), 900):
                chunk = message_ids[start : start + 900]
                marks = sql.in_list(len(chunk))
                for r in conn.execute(sql.SELECT_MESSAGES_FOR_UPDATE.format(marks), chunk):
                    messages[r[0]] = message_row(r)
                for r in conn.execute(sql.SELECT_PARTS_FOR_UPDATE.format(marks), chunk):
                    parts.setdefault(r[0], []).append(part_row(r))
            conn.executemany(
                ops.SET_MESSAGE_STATUS, ops.plan_requeued_messages(messages, parts, now)
            )
            return changed

        return await self._write(run)
