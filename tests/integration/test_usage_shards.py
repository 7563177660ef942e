"""Account usage counted on one row per node: nodes committing for one account do not wait for
each other's row lock, and the readers add the rows up."""

from __future__ import annotations

import asyncpg
import pytest

from gateway.domain import NewMessage, new_id
from gateway.domain.accounts import USAGE_SHARDS, usage_day, usage_shard
from gateway.store import open_store
from gateway.store.accounts_sql import UPSERT_USAGE
from gateway.store.postgres import PostgresStore
from gateway.store.sql import numbered
from gateway.store.sqlite import SqliteStore
from tests.integration.pg_sessions import account_in_store, two_sessions
from tests.integration.test_store_contract import _message as contract_message

NOW = 1_700_000_000.0


def _message(account_id: str, segments: int) -> NewMessage:
    return contract_message(account_id, segments, price=0.01)


def test_a_node_keeps_its_shard_and_nodes_spread_over_them() -> None:
    assert usage_shard("gw-1:8080") == usage_shard("gw-1:8080")
    shards = {usage_shard(f"gw-{i}:8080") for i in range(200)}
    assert shards <= set(range(USAGE_SHARDS)) and len(shards) > USAGE_SHARDS // 2


async def test_two_nodes_count_on_their_own_rows_and_readers_sum_them(
    store_address: tuple[str, str | None],
) -> None:
    url, schema = store_address
    node_a = open_store(url, schema=schema, usage_shard=3)
    node_b = open_store(url, schema=schema, usage_shard=41)
    await node_a.open()
    await node_b.open()
    try:
        await node_a.migrate()
        await node_b.migrate()
        account_id = new_id()
        await node_a.create_account(account_id=account_id, name="acme", now=NOW)
        await node_a.insert_messages([_message(account_id, 2)], owner=None)
        await node_b.insert_messages([_message(account_id, 1)], owner=None)
        await node_b.insert_messages([_message(account_id, 3)], owner=None)
        # A node of the previous version, during a rolling upgrade, still counts in the table
        # of one row per account and day; its counts are added up too.
        legacy = (
            "INSERT INTO account_usage (account_id, day, segments, spend) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (account_id, day) DO UPDATE"
            " SET segments = account_usage.segments + excluded.segments"
        )
        row = (account_id, usage_day(NOW), 4, 0.04)
        if isinstance(node_a, PostgresStore):
            await node_a.pool.execute(numbered(legacy), *row)
        else:
            assert isinstance(node_a, SqliteStore)
            await node_a._write(lambda conn: conn.execute(legacy, row))
        for node in (node_a, node_b):
            usage = (await node.account_usage(day=usage_day(NOW)))[account_id]
            assert usage.day_segments == 6 + 4
            assert usage.month_spend == pytest.approx(0.1)
    finally:
        await node_a.close()
        await node_b.close()


async def test_a_commit_in_progress_on_one_shard_does_not_block_another(
    postgres_dsn: str, pg_schema: str
) -> None:
    """What the shards are for: on a single row, the second transaction would wait for the
    first one's commit (checked here too, so the test can tell the difference)."""
    async with account_in_store(postgres_dsn, pg_schema, now=NOW) as (_, account_id):
        pass
    day = usage_day(NOW)
    upsert = numbered(UPSERT_USAGE)
    async with two_sessions(postgres_dsn, pg_schema) as (first, second), first.transaction():
        await first.execute(upsert, account_id, day, 3, 1, 0.01)
        await first.execute(upsert, account_id, day, 3, 1, 0.01)  # the row exists now
        async with second.transaction():
            await second.execute(upsert, account_id, day, 41, 1, 0.01)  # no wait
        with pytest.raises(asyncpg.LockNotAvailableError):
            async with second.transaction():
                await second.execute(upsert, account_id, day, 3, 1, 0.01)
