"""Two nodes finishing different parts of one message at the same moment: the message must end
final. Each status write re-reads the message's parts to aggregate them; without a lock on the
message row, each write could see only its own part final and leave the message unfinished for
ever (no later write touches it)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from gateway.domain import NewMessage, PartUpdate, Status, new_id
from gateway.store import Store, open_store, sql
from gateway.store.postgres import _LOCK_MESSAGES_BY_IDS
from gateway.store.sql import numbered
from tests.integration.pg_sessions import account_in_store, two_sessions
from tests.integration.test_store_contract import _message as contract_message

NOW = 1_700_000_000.0


def _two_part_message(account_id: str) -> NewMessage:
    # A receipt for the whole message, owed when it is final.
    return contract_message(account_id, 2, origin_system_id="esme", esme_receipt=1)


async def test_parts_finished_on_two_nodes_at_once_finish_their_message(
    store_address: tuple[str, str | None],
) -> None:
    url, schema = store_address
    nodes: list[Store] = [open_store(url, schema=schema), open_store(url, schema=schema)]
    for node in nodes:
        await node.open()
    try:
        await nodes[0].migrate()
        account_id = new_id()
        await nodes[0].create_account(account_id=account_id, name="acme", now=NOW)
        for _ in range(3):  # three rounds at the same moment, so the race would show
            messages = [_two_part_message(account_id) for _ in range(50)]
            await nodes[0].insert_messages(messages, owner="a")
            await nodes[0].apply_updates(
                [
                    PartUpdate(m.id, i, Status.SUBMITTED, NOW, upstream_id=f"{m.id}.{i}")
                    for m in messages
                    for i in (0, 1)
                ]
            )
            finished = await asyncio.gather(
                *(
                    node.apply_updates_and_take(
                        [PartUpdate(m.id, seq, Status.DELIVERED, NOW + 1) for m in messages],
                        None,
                    )
                    for seq, node in enumerate(nodes)
                )
            )
            changes = [c.message_id for f in finished for c in f.changes]
            assert sorted(changes) == sorted(m.id for m in messages)  # each finished once
            assert sum(f.left for f in finished) == len(messages)  # and owes one receipt
            for m in messages:
                record = await nodes[1].get_message(account_id=account_id, message_id=m.id)
                assert record is not None and record.status is Status.DELIVERED, m.id
    finally:
        for node in nodes:
            await node.close()


async def test_the_status_lock_does_not_hold_up_parts_joining_their_message(
    postgres_dsn: str, pg_schema: str
) -> None:
    """A later SMPP part inserted while a status write holds its message: the part's foreign
    key takes a KEY SHARE lock on the message, which FOR UPDATE would block (and, with two
    messages locked in different orders, deadlock); FOR NO KEY UPDATE lets it through."""
    async with account_in_store(postgres_dsn, pg_schema, now=NOW) as (store, account_id):
        message = _two_part_message(account_id)
        await store.insert_messages([message], owner="a")
    async with (
        two_sessions(postgres_dsn, pg_schema) as (status_write, intake),
        status_write.transaction(),
    ):
        locked = await status_write.fetch(_LOCK_MESSAGES_BY_IDS, [message.id])
        assert [r[0] for r in locked] == [message.id]
        async with intake.transaction():
            await intake.execute(
                numbered(sql.INSERT_PART),
                message.id, 2, 3, "gsm7", 0, b"", b"late", "simulator",
                1, "accepted", 0, None, NOW, NOW, 0,
            )  # fmt: skip
        with pytest.raises(asyncpg.LockNotAvailableError):  # another status write waits
            async with intake.transaction():
                await intake.fetch(_LOCK_MESSAGES_BY_IDS, [message.id])
