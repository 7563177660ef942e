"""PostgreSQL half of listing, statistics and webhooks: a mixin `PostgresStore` inherits.
Streams are claimed with `FOR UPDATE SKIP LOCKED`, so nodes never wait on or double-claim an
account's stream; the in-transaction hooks run on the status writer's and inbound path's
connections."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from gateway.domain import InboundRecord, MessageRecord
from gateway.domain.errors import StatsTimeout
from gateway.domain.listing import MessageFilter, Position
from gateway.domain.stats import Grouping, StatsRow
from gateway.domain.webhooks import Webhook, WebhookEvent, WebhookFailure, WebhookStream
from gateway.store import listing_sql, sql, stats_sql
from gateway.store import webhooks_sql as wsql
from gateway.store.lifecycle import MessageChange, MessageRow

_N = sql.numbered
Connection: TypeAlias = "PoolConnectionProxy[asyncpg.Record]"

_CLAIM_STREAMS = f"""
WITH due AS ({_N(wsql.DUE_STREAMS).strip()} FOR UPDATE OF w SKIP LOCKED)
UPDATE webhooks w SET owner = $4, lease_until = $5 FROM due
WHERE w.account_id = due.account_id
RETURNING w.account_id, w.url, w.secret, w.failures
"""
_SUBSCRIPTIONS = wsql.SELECT_SUBSCRIPTIONS.replace("IN ({})", "= ANY($1::text[])")


class PostgresEvents:
    if TYPE_CHECKING:

        @property
        def pool(self) -> asyncpg.Pool: ...

    # -- listing ----------------------------------------------------------------------------

    async def list_messages(
        self, *, account_id: str, where: MessageFilter, after: Position | None, limit: int
    ) -> list[MessageRecord]:
        statement, params = listing_sql.list_messages_query(
            account_id=account_id, where=where, after=after, limit=limit
        )
        rows = await self.pool.fetch(_N(statement), *params)
        return [sql.message_record(r, ()) for r in rows]

    async def list_inbound_page(
        self, *, account_id: str, after: Position | None, limit: int
    ) -> list[InboundRecord]:
        statement, params = listing_sql.list_inbound_query(
            account_id=account_id, after=after, limit=limit
        )
        rows = await self.pool.fetch(_N(statement), *params)
        return [sql.inbound_record(r) for r in rows]

    # -- statistics -------------------------------------------------------------------------

    async def message_stats(
        self,
        *,
        account_id: str,
        start: float,
        end: float,
        grouping: Grouping | None,
        timeout: float,
    ) -> list[StatsRow]:
        statement = _N(stats_sql.stats_query(grouping, "postgres"))
        async with self.pool.acquire() as conn, conn.transaction():
            # At least 1 ms: 0 would mean no timeout at all.
            await conn.execute(f"SET LOCAL statement_timeout = {max(1, int(timeout * 1000))}")
            try:
                rows = await conn.fetch(statement, account_id, start, end)
            except asyncpg.QueryCanceledError as exc:
                raise StatsTimeout(f"no answer within {timeout:g} s") from exc
        return [stats_sql.stats_row(r) for r in rows]

    # -- webhooks ---------------------------------------------------------------------------

    async def put_webhook(
        self,
        *,
        account_id: str,
        url: str,
        events: Sequence[str],
        secret: str,
        rotate: bool,
        now: float,
    ) -> Webhook:
        row = await self.pool.fetchrow(
            _N(wsql.UPSERT_WEBHOOK),
            account_id,
            url,
            ",".join(events),
            secret,
            account_id,
            now,
            now,
            rotate,
        )
        assert row is not None  # INSERT ... RETURNING always returns the row
        return wsql.webhook(row)

    async def get_webhook(self, account_id: str) -> Webhook | None:
        row = await self.pool.fetchrow(_N(wsql.SELECT_WEBHOOK), account_id)
        return None if row is None else wsql.webhook(row)

    async def delete_webhook(self, *, account_id: str, now: float) -> bool:
        async with self.pool.acquire() as conn, conn.transaction():
            deleted = await conn.execute(_N(wsql.DELETE_WEBHOOK), account_id)
            await conn.execute(_N(wsql.ABANDON_PENDING), now, account_id)
        return deleted != "DELETE 0"

    async def claim_webhook_streams(
        self, *, node_id: str, limit: int, now: float, lease: float
    ) -> list[WebhookStream]:
        rows = await self.pool.fetch(_CLAIM_STREAMS, now, now, limit, node_id, now + lease)
        return [wsql.stream(r) for r in rows]

    async def pending_webhook_events(self, *, account_id: str, limit: int) -> list[WebhookEvent]:
        rows = await self.pool.fetch(_N(wsql.PENDING_EVENTS), account_id, limit)
        return [wsql.event(r) for r in rows]

    async def finish_webhook_stream(
        self,
        *,
        stream: WebhookStream,
        node_id: str,
        delivered: Sequence[int],
        failure: WebhookFailure | None,
        now: float,
        max_age: float,
    ) -> None:
        retry_at, failures = wsql.next_try(stream, failure)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                _N(wsql.RELEASE_STREAM), now, retry_at, failures, stream.account_id, node_id
            )
            if delivered:
                await conn.executemany(_N(wsql.MARK_DELIVERED), [(now, i) for i in delivered])
            if failure is not None:
                await conn.execute(_N(wsql.MARK_ATTEMPT_FAILED), failure.error, failure.row_id)
                if failure.give_up:
                    await conn.execute(
                        _N(wsql.GIVE_UP), now, stream.account_id, failure.row_id, now - max_age
                    )

    async def release_webhook_streams(self, *, node_id: str) -> int:
        status = await self.pool.execute(_N(wsql.RELEASE_OWNED_STREAMS), node_id)
        return int(status.split()[-1])

    async def replay_webhook_events(
        self, *, account_id: str, from_sequence: int, since: float
    ) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(_N(wsql.RESET_BACKOFF), account_id)
            status = await conn.execute(_N(wsql.REPLAY), account_id, from_sequence, since)
        return int(status.split()[-1])

    async def count_pending_webhook_events(self) -> int:
        return int(await self.pool.fetchval(wsql.COUNT_PENDING))

    async def purge_webhook_events(self, *, older_than: float, limit: int) -> int:
        status = await self.pool.execute(_N(wsql.PURGE_FINISHED), older_than, limit)
        return int(status.split()[-1])


async def queue_status_events(
    conn: Connection,
    changes: Sequence[MessageChange],
    messages: Mapping[str, MessageRow],
    now: float,
) -> None:
    """Inside the status writer's transaction: webhook events for these transitions."""
    accounts = sorted({c.change.account_id for c in changes})
    if not accounts:
        return
    subscribed = wsql.subscriptions(await conn.fetch(_SUBSCRIPTIONS, accounts))
    if subscribed:
        await _insert_events(conn, wsql.status_events(changes, messages, subscribed), now)


async def queue_inbound_event(conn: Connection, record: InboundRecord) -> None:
    """Inside the inbound path's transaction: the event for a stored MO, if subscribed."""
    if record.account_id is None:
        return
    subscribed = wsql.subscriptions(await conn.fetch(_SUBSCRIPTIONS, [record.account_id]))
    planned = wsql.inbound_event(record)
    if planned[0] in subscribed.get(record.account_id, ()):
        await _insert_events(conn, {record.account_id: [planned]}, record.received_at)


async def _insert_events(
    conn: Connection, owed: Mapping[str, Sequence[wsql.PlannedEvent]], now: float
) -> None:
    # Sorted: two transactions numbering events of the same accounts lock their webhook rows
    # in the same order, so they queue rather than deadlock.
    for account_id in sorted(owed):
        events = owed[account_id]
        last = await conn.fetchval(_N(wsql.NEXT_SEQUENCES), len(events), account_id)
        rows = wsql.event_rows(account_id, last - len(events), events, now)
        await conn.executemany(_N(wsql.INSERT_EVENT), rows)
