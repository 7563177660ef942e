"""SQLite half of listing, statistics and webhooks: a mixin `SqliteStore` inherits, on its
writer and reader threads. The in-transaction hooks (`queue_status_events`,
`queue_inbound_event`) run on the writer's connection inside the status writer's and inbound
path's transactions."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

from gateway.domain import InboundRecord, MessageRecord
from gateway.domain.errors import StatsTimeout
from gateway.domain.listing import MessageFilter, Position
from gateway.domain.stats import Grouping, StatsRow
from gateway.domain.webhooks import Webhook, WebhookEvent, WebhookFailure, WebhookStream
from gateway.store import listing_sql, sql, stats_sql
from gateway.store import webhooks_sql as wsql
from gateway.store.lifecycle import MessageChange, MessageRow

T = TypeVar("T")


class SqliteEvents:
    if TYPE_CHECKING:

        async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...
        async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...

    # -- listing ----------------------------------------------------------------------------

    async def list_messages(
        self, *, account_id: str, where: MessageFilter, after: Position | None, limit: int
    ) -> list[MessageRecord]:
        statement, params = listing_sql.list_messages_query(
            account_id=account_id, where=where, after=after, limit=limit
        )
        rows = await self._read(lambda c: c.execute(statement, params).fetchall())
        return [sql.message_record(r, ()) for r in rows]

    async def list_inbound_page(
        self, *, account_id: str, after: Position | None, limit: int
    ) -> list[InboundRecord]:
        statement, params = listing_sql.list_inbound_query(
            account_id=account_id, after=after, limit=limit
        )
        rows = await self._read(lambda c: c.execute(statement, params).fetchall())
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
        statement = stats_sql.stats_query(grouping, "sqlite")

        def run(conn: sqlite3.Connection) -> list[StatsRow]:
            # SQLite has no statement timeout: a progress handler interrupts the query, so one
            # expensive request cannot hold the reader thread that every other read waits for.
            deadline = time.monotonic() + timeout
            conn.set_progress_handler(lambda: time.monotonic() > deadline, 1000)
            try:
                rows = conn.execute(statement, (account_id, start, end)).fetchall()
            except sqlite3.OperationalError as exc:
                if "interrupted" in str(exc):
                    raise StatsTimeout(f"no answer within {timeout:g} s") from exc
                raise
            finally:
                conn.set_progress_handler(None, 0)
            return [stats_sql.stats_row(r) for r in rows]

        return await self._read(run)

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
        params = (account_id, url, ",".join(events), secret, account_id, now, now, rotate)
        row = await self._write(lambda c: c.execute(wsql.UPSERT_WEBHOOK, params).fetchone())
        return wsql.webhook(row)

    async def get_webhook(self, account_id: str) -> Webhook | None:
        row = await self._read(lambda c: c.execute(wsql.SELECT_WEBHOOK, (account_id,)).fetchone())
        return None if row is None else wsql.webhook(row)

    async def delete_webhook(self, *, account_id: str, now: float) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            deleted = conn.execute(wsql.DELETE_WEBHOOK, (account_id,)).rowcount
            conn.execute(wsql.ABANDON_PENDING, (now, account_id))
            return bool(deleted)

        return await self._write(run)

    async def claim_webhook_streams(
        self, *, node_id: str, limit: int, now: float, lease: float
    ) -> list[WebhookStream]:
        # Delivery looks after every status commit, most often to find nothing (no account
        # subscribed): ask the reader first rather than queue an empty write behind intake.
        if not await self._read(lambda c: c.execute(wsql.DUE_STREAMS, (now, now, 1)).fetchone()):
            return []

        def run(conn: sqlite3.Connection) -> list[WebhookStream]:
            due = conn.execute(wsql.DUE_STREAMS, (now, now, limit)).fetchall()
            return [
                wsql.stream(
                    conn.execute(wsql.LEASE_STREAM, (node_id, now + lease, r[0])).fetchone()
                )
                for r in due
            ]

        return await self._write(run)

    async def pending_webhook_events(self, *, account_id: str, limit: int) -> list[WebhookEvent]:
        rows = await self._read(
            lambda c: c.execute(wsql.PENDING_EVENTS, (account_id, limit)).fetchall()
        )
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

        def run(conn: sqlite3.Connection) -> None:
            conn.execute(wsql.RELEASE_STREAM, (now, retry_at, failures, stream.account_id, node_id))
            conn.executemany(wsql.MARK_DELIVERED, [(now, i) for i in delivered])
            if failure is not None:
                conn.execute(wsql.MARK_ATTEMPT_FAILED, (failure.error, failure.row_id))
                if failure.give_up:
                    conn.execute(
                        wsql.GIVE_UP, (now, stream.account_id, failure.row_id, now - max_age)
                    )

        await self._write(run)

    async def release_webhook_streams(self, *, node_id: str) -> int:
        return await self._write(
            lambda c: c.execute(wsql.RELEASE_OWNED_STREAMS, (node_id,)).rowcount
        )

    async def replay_webhook_events(
        self, *, account_id: str, from_sequence: int, since: float
    ) -> int:
        def run(conn: sqlite3.Connection) -> int:
            conn.execute(wsql.RESET_BACKOFF, (account_id,))
            return int(conn.execute(wsql.REPLAY, (account_id, from_sequence, since)).rowcount)

        return await self._write(run)

    async def count_pending_webhook_events(self) -> int:
        return int(await self._read(lambda c: c.execute(wsql.COUNT_PENDING).fetchone()[0]))

    async def purge_webhook_events(self, *, older_than: float, limit: int) -> int:
        return await self._write(
            lambda c: c.execute(wsql.PURGE_FINISHED, (older_than, limit)).rowcount
        )


def queue_status_events(
    conn: sqlite3.Connection,
    changes: Sequence[MessageChange],
    messages: Mapping[str, MessageRow],
    now: float,
) -> None:
    """Inside the status writer's transaction: webhook events for these transitions."""
    accounts = sorted({c.change.account_id for c in changes})
    if not accounts:
        return
    subscribed = wsql.subscriptions(
        conn.execute(wsql.SELECT_SUBSCRIPTIONS.format(sql.in_list(len(accounts))), accounts)
    )
    if subscribed:
        _insert_events(conn, wsql.status_events(changes, messages, subscribed), now)


def queue_inbound_event(conn: sqlite3.Connection, record: InboundRecord) -> None:
    """Inside the inbound path's transaction: the event for a stored MO, if subscribed."""
    if record.account_id is None:
        return
    subscribed = wsql.subscriptions(
        conn.execute(wsql.SELECT_SUBSCRIPTIONS.format("?"), (record.account_id,))
    )
    planned = wsql.inbound_event(record)
    if planned[0] in subscribed.get(record.account_id, ()):
        _insert_events(conn, {record.account_id: [planned]}, record.received_at)


def _insert_events(
    conn: sqlite3.Connection, owed: Mapping[str, Sequence[wsql.PlannedEvent]], now: float
) -> None:
    for account_id in sorted(owed):
        events = owed[account_id]
        last = conn.execute(wsql.NEXT_SEQUENCES, (len(events), account_id)).fetchone()[0]
        rows = wsql.event_rows(account_id, last - len(events), events, now)
        conn.executemany(wsql.INSERT_EVENT, rows)
