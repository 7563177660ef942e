"""The Idempotency service on each real store: replay, mismatch, in progress, 24 h expiry."""

from __future__ import annotations

import asyncio

import pytest

from gateway.domain.batches import SubmissionUnit
from gateway.domain.errors import IdempotencyInProgress, IdempotencyKeyMismatch
from gateway.idempotency import KEY_TTL, Idempotency, Reply, Stamp, fingerprint
from gateway.store import Store
from tests.integration.test_store_contract import NOW, _account


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


class Submits:
    """A submit that commits its key record through the store, as intake does."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.calls = 0
        self.gate: asyncio.Event | None = None

    async def __call__(self, stamp: Stamp | None) -> Reply | None:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        reply = Reply(202, b'{"n":%d}' % self.calls)
        record = stamp(reply.status_code, reply.body) if stamp else None
        [ok] = await self.store.insert_submissions(
            [SubmissionUnit((), idempotency=record)], owner=None
        )
        return reply if ok else None


async def test_replay_mismatch_and_expiry(store: Store) -> None:
    account_id = await _account(store)
    clock = Clock()
    keys = Idempotency(store=store, clock=clock)
    submit = Submits(store)
    same = fingerprint("POST /x", {"a": 1, "b": [1, 2]})
    assert same == fingerprint("POST /x", {"b": [1, 2], "a": 1})

    first = await keys.run(account_id=account_id, key="k", fingerprint=same, submit=submit)
    assert first == Reply(202, b'{"n":1}')
    again = await keys.run(account_id=account_id, key="k", fingerprint=same, submit=submit)
    assert again == Reply(202, b'{"n":1}', replayed=True) and submit.calls == 1

    with pytest.raises(IdempotencyKeyMismatch):
        await keys.run(
            account_id=account_id, key="k", fingerprint=fingerprint("POST /x", {}), submit=submit
        )
    no_key = await keys.run(account_id=account_id, key=None, fingerprint=same, submit=submit)
    assert no_key.body == b'{"n":2}'

    clock.now = NOW + KEY_TTL - 1
    assert await keys.sweep_once() == 0
    clock.now = NOW + KEY_TTL
    # Expired: the key is free again, even before the sweep deletes the record.
    later = await keys.run(account_id=account_id, key="k", fingerprint=same, submit=submit)
    assert later == Reply(202, b'{"n":3}')
    clock.now = NOW + 2 * KEY_TTL
    assert await keys.sweep_once() == 1
    assert await store.get_idempotency(account_id=account_id, key="k", now=NOW) is None


async def test_a_second_request_while_the_first_runs_is_in_progress(store: Store) -> None:
    account_id = await _account(store)
    keys = Idempotency(store=store, clock=Clock())
    submit = Submits(store)
    submit.gate = asyncio.Event()
    first = asyncio.create_task(
        keys.run(account_id=account_id, key="k", fingerprint="f", submit=submit)
    )
    while submit.calls == 0:
        await asyncio.sleep(0)
    with pytest.raises(IdempotencyInProgress) as caught:
        await keys.run(account_id=account_id, key="k", fingerprint="f", submit=submit)
    assert caught.value.http_status == 409
    # Another key of the same account is not held up.
    submit.gate.set()
    other = await keys.run(account_id=account_id, key="k2", fingerprint="f", submit=submit)
    assert (await first).body == b'{"n":1}' and other.body == b'{"n":2}'
    replay = await keys.run(account_id=account_id, key="k", fingerprint="f", submit=submit)
    assert replay.replayed and submit.calls == 2


async def test_losing_the_key_to_another_node_replays_its_response(store: Store) -> None:
    account_id = await _account(store)
    clock = Clock()
    node_a, node_b = Idempotency(store=store, clock=clock), Idempotency(store=store, clock=clock)
    submit_a, submit_b = Submits(store), Submits(store)
    submit_b.gate = asyncio.Event()
    # B has looked the key up (free) and is preparing when A commits.
    b = asyncio.create_task(
        node_b.run(account_id=account_id, key="k", fingerprint="f", submit=submit_b)
    )
    while submit_b.calls == 0:
        await asyncio.sleep(0)
    a = await node_a.run(account_id=account_id, key="k", fingerprint="f", submit=submit_a)
    submit_b.gate.set()
    assert await b == Reply(a.status_code, a.body, replayed=True)
