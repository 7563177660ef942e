"""Store contract for batches and idempotency records, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from gateway.domain import PartUpdate, Status, new_id
from gateway.domain.batches import IdempotencyRecord, NewBatch, SubmissionUnit
from gateway.store import Store
from tests.integration.test_store_contract import NOW, _account, _message


def _key(
    account_id: str, key: str = "k1", fingerprint: str = "f1", **kw: object
) -> IdempotencyRecord:
    fields: dict[str, object] = {
        "account_id": account_id,
        "key": key,
        "fingerprint": fingerprint,
        "status_code": 202,
        "body": b'{"id":"x"}',
        "created_at": NOW,
        "expires_at": NOW + 86_400,
    }
    fields.update(kw)
    return IdempotencyRecord(**fields)  # type: ignore[arg-type]


def _batch(account_id: str, accepted: int, rejected: int = 0) -> NewBatch:
    return NewBatch(
        id=new_id(),
        account_id=account_id,
        created_at=NOW,
        recipients=accepted + rejected,
        accepted=accepted,
        rejected=rejected,
        message_type="promotional",
        source="Acme",
    )


async def test_a_batch_commits_with_its_messages_and_sums_them_by_status(store: Store) -> None:
    account_id = await _account(store)
    batch = _batch(account_id, accepted=3, rejected=1)
    messages = [
        _message(account_id, parts=2, batch_id=batch.id, price=0.05),
        _message(account_id, batch_id=batch.id, price=0.05),
        _message(account_id, batch_id=batch.id, price=0.05),
    ]
    unit = SubmissionUnit(tuple(messages), batch=batch)
    assert await store.insert_submissions([unit], owner=None) == [True]
    await store.apply_updates([PartUpdate(messages[2].id, 0, Status.SUBMITTED, NOW + 1)])
    summary = await store.get_batch(account_id=account_id, batch_id=batch.id)
    assert summary is not None
    assert summary.batch == batch
    assert summary.statuses == {"accepted": 2, "submitted": 1}
    assert summary.segments == 4 and summary.price == 0.2
    record = await store.get_message(account_id=account_id, message_id=messages[0].id)
    assert record is not None and record.batch_id == batch.id


async def test_a_batch_is_visible_to_its_account_only(store: Store) -> None:
    a, b = await _account(store, "a"), await _account(store, "b")
    batch = _batch(a, accepted=0, rejected=2)
    await store.insert_submissions([SubmissionUnit((), batch=batch)], owner=None)
    assert await store.get_batch(account_id=b, batch_id=batch.id) is None
    summary = await store.get_batch(account_id=a, batch_id=batch.id)
    assert summary is not None and summary.statuses == {} and summary.price is None


async def test_a_taken_key_keeps_the_second_unit_out_entirely(store: Store) -> None:
    account_id = await _account(store)
    first = _message(account_id)
    second = _message(account_id)
    assert await store.insert_submissions(
        [SubmissionUnit((first,), idempotency=_key(account_id))], owner=None
    ) == [True]
    batch = _batch(account_id, accepted=1)
    late = SubmissionUnit((second,), batch=batch, idempotency=_key(account_id, fingerprint="f2"))
    plain = _message(account_id)
    assert await store.insert_submissions([late, SubmissionUnit((plain,))], owner=None) == [
        False,
        True,
    ]
    assert await store.get_message(account_id=account_id, message_id=second.id) is None
    assert await store.get_batch(account_id=account_id, batch_id=batch.id) is None
    assert await store.get_message(account_id=account_id, message_id=plain.id) is not None
    stored = await store.get_idempotency(account_id=account_id, key="k1", now=NOW + 1)
    assert stored == _key(account_id)


async def test_the_same_key_twice_in_one_commit_writes_the_first_only(store: Store) -> None:
    account_id = await _account(store)
    one, two = _message(account_id), _message(account_id)
    units = [
        SubmissionUnit((one,), idempotency=_key(account_id)),
        SubmissionUnit((two,), idempotency=_key(account_id)),
    ]
    assert await store.insert_submissions(units, owner=None) == [True, False]
    assert await store.get_message(account_id=account_id, message_id=two.id) is None


async def test_keys_are_per_account(store: Store) -> None:
    a, b = await _account(store, "a"), await _account(store, "b")
    units = [
        SubmissionUnit((_message(a),), idempotency=_key(a)),
        SubmissionUnit((_message(b),), idempotency=_key(b)),
    ]
    assert await store.insert_submissions(units, owner=None) == [True, True]
    assert await store.get_idempotency(account_id=b, key="k1", now=NOW) == _key(b)


async def test_expired_keys_are_gone_and_can_be_taken_again(store: Store) -> None:
    account_id = await _account(store)
    old = _key(account_id, expires_at=NOW + 10)
    await store.insert_submissions(
        [SubmissionUnit((_message(account_id),), idempotency=old)], owner=None
    )
    assert await store.get_idempotency(account_id=account_id, key="k1", now=NOW + 10) is None
    # Not swept yet: a new request with the key replaces the expired record.
    new = _key(account_id, fingerprint="f2", created_at=NOW + 20, expires_at=NOW + 100)
    unit = SubmissionUnit((_message(account_id, created_at=NOW + 20),), idempotency=new)
    assert await store.insert_submissions([unit], owner=None) == [True]
    assert await store.get_idempotency(account_id=account_id, key="k1", now=NOW + 21) == new
    assert await store.expire_idempotency(now=NOW + 99) == 0
    assert await store.expire_idempotency(now=NOW + 100) == 1
    assert await store.get_idempotency(account_id=account_id, key="k1", now=NOW + 21) is None


async def test_concurrent_commits_with_one_key_write_one_of_them(store: Store) -> None:
    account_id = await _account(store)
    messages = [_message(account_id) for _ in range(4)]
    results = await asyncio.gather(
        *(
            store.insert_submissions(
                [SubmissionUnit((m,), idempotency=_key(account_id, fingerprint=m.id))], owner=None
            )
            for m in messages
        )
    )
    assert sorted(r[0] for r in results) == [False, False, False, True]
    winner = next(m for m, r in zip(messages, results, strict=True) if r[0])
    stored = await store.get_idempotency(account_id=account_id, key="k1", now=NOW)
    assert stored is not None and stored.fingerprint == winner.id
    found = [await store.get_message(account_id=account_id, message_id=m.id) for m in messages]
    assert [f is not None for f in found] == [r[0] for r in results]


async def test_continuations_commit_through_units_too(store: Store) -> None:
    account_id = await _account(store)
    first = _message(account_id, parts=1, segments=2, body="")
    rest = dataclasses.replace(
        first,
        parts=(dataclasses.replace(first.parts[0], seq=1),),
        continuation=True,
        body="whole text",
    )
    await store.insert_submissions(
        [SubmissionUnit((first,), idempotency=_key(account_id))], owner=None
    )
    await store.insert_submissions(
        [SubmissionUnit((rest,), idempotency=_key(account_id, "k2"))], owner=None
    )
    record = await store.get_message(account_id=account_id, message_id=first.id)
    assert record is not None and [p.seq for p in record.parts] == [0, 1]


async def test_a_failed_commit_leaves_neither_key_nor_batch_nor_messages(store: Store) -> None:
    account_id = await _account(store)
    existing = _message(account_id)
    await store.insert_messages([existing], owner=None)
    batch = _batch(account_id, accepted=2)
    fresh = _message(account_id, batch_id=batch.id)
    clash = dataclasses.replace(existing, batch_id=batch.id)  # its id is taken: the insert fails
    unit = SubmissionUnit((fresh, clash), batch=batch, idempotency=_key(account_id))
    with pytest.raises(Exception, match=r"(?i)unique"):
        await store.insert_submissions([unit], owner=None)
    assert await store.get_idempotency(account_id=account_id, key="k1", now=NOW) is None
    assert await store.get_batch(account_id=account_id, batch_id=batch.id) is None
    assert await store.get_message(account_id=account_id, message_id=fresh.id) is None
