"""The Store contract: the same tests, unchanged, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from gateway.domain import (
    MessageType,
    NewMessage,
    NewPart,
    OutboxTake,
    PartUpdate,
    Status,
    new_id,
)
from gateway.domain.accounts import StoredConnector
from gateway.domain.errors import ConnectorExists
from gateway.store import Store

NOW = 1_700_000_000.0


async def _account(store: Store, name: str = "acme") -> str:
    account_id = new_id()
    await store.create_account(account_id=account_id, name=name, now=NOW)
    return account_id


def _message(account_id: str, parts: int = 1, **kwargs: object) -> NewMessage:
    fields: dict[str, object] = {
        "id": new_id(),
        "account_id": account_id,
        "source": "Acme",
        "destination": "+4915112345678",
        "body": "hello",
        "encoding": "gsm7",
        "message_type": MessageType.TRANSACTIONAL,
        "connector": "simulator",
        "parts": tuple(
            NewPart(seq=i, encoding="gsm7", data_coding=0, udh=b"", payload=b"hello")
            for i in range(parts)
        ),
        "created_at": NOW,
    }
    fields.update(kwargs)
    return NewMessage(**fields)  # type: ignore[arg-type]


async def test_migrate_is_idempotent(store: Store) -> None:
    assert await store.migrate() == []


async def test_api_key_resolves_to_its_account_only(store: Store) -> None:
    account_id = await _account(store)
    await store.add_api_key(account_id=account_id, key_hash="h1", prefix="sk_a", now=NOW)
    await store.add_api_key(account_id=account_id, key_hash="h2", prefix="sk_a", now=NOW)
    await store.add_api_key(account_id=account_id, key_hash="h3", prefix="sk_b", now=NOW)
    await store.revoke_api_keys(account_id=account_id, prefix="sk_b", now=NOW)
    found = await store.api_keys_with_prefix("sk_a")
    assert sorted(h for h, _ in found) == ["h1", "h2"]
    account = found[0][1]
    assert account.id == account_id and account.name == "acme"
    assert await store.api_keys_with_prefix("sk_b") == []  # revoked
    assert await store.api_keys_with_prefix("unknown") == []
    assert (await store.get_account_by_name("acme")) == account


async def test_inserted_message_reads_back_with_parts(store: Store) -> None:
    account_id = await _account(store)
    message = _message(account_id, parts=3, client_ref="order-1")
    await store.insert_messages([message], owner="node-a")
    record = await store.get_message(account_id=account_id, message_id=message.id)
    assert record is not None
    assert record.status is Status.ACCEPTED
    assert record.segments == 3 and record.client_ref == "order-1"
    assert [p.seq for p in record.parts] == [0, 1, 2]
    assert all(p.status is Status.QUEUED for p in record.parts)


async def test_other_account_cannot_read_a_message(store: Store) -> None:
    a = await _account(store, "a")
    b = await _account(store, "b")
    message = _message(a)
    await store.insert_messages([message], owner=None)
    assert await store.get_message(account_id=b, message_id=message.id) is None


async def test_claim_takes_only_unowned_due_parts_by_priority(store: Store) -> None:
    account_id = await _account(store)
    promo = _message(account_id, message_type=MessageType.PROMOTIONAL)
    otp = _message(account_id, message_type=MessageType.OTP)
    owned = _message(account_id)
    later = _message(account_id, send_at=NOW + 3600)
    await store.insert_messages([promo, otp, later], owner=None)
    await store.insert_messages([owned], owner="node-a")
    claimed = await store.claim_parts(node_id="node-b", limit=10, now=NOW + 1)
    assert [p.message_id for p in claimed] == [otp.id, promo.id]
    assert claimed[0].destination == "+4915112345678" and claimed[0].payload == b"hello"
    assert await store.claim_parts(node_id="node-c", limit=10, now=NOW + 1) == []
    due_later = await store.claim_parts(node_id="node-c", limit=10, now=NOW + 3601)
    assert [p.message_id for p in due_later] == [later.id]


async def test_concurrent_claims_never_share_a_part(store: Store) -> None:
    account_id = await _account(store)
    messages = [_message(account_id) for _ in range(40)]
    await store.insert_messages(messages, owner=None)
    results = await asyncio.gather(
        *(store.claim_parts(node_id=f"n{i}", limit=7, now=NOW + 1) for i in range(8))
    )
    keys = [p.key for batch in results for p in batch]
    assert len(keys) == len(set(keys)) == 40


async def test_released_and_stale_parts_are_claimable_again(store: Store) -> None:
    account_id = await _account(store)
    await store.insert_messages([_message(account_id), _message(account_id)], owner="dead")
    assert await store.claim_parts(node_id="b", limit=10, now=NOW + 1) == []
    await store.heartbeat(node_id="dead", now=NOW)
    assert await store.release_stale(now=NOW + 5, ttl=10) == 0
    assert await store.release_stale(now=NOW + 60, ttl=10) == 2
    assert len(await store.claim_parts(node_id="b", limit=10, now=NOW + 61)) == 2
    assert await store.release_owned(node_id="b") == 2


async def test_status_moves_forward_and_never_back(store: Store) -> None:
    account_id = await _account(store)
    m = _message(account_id)
    await store.insert_messages([m], owner="a")
    changes = await store.apply_updates(
        [PartUpdate(m.id, 0, Status.SUBMITTED, NOW + 1, upstream_id="up-1", attempt=True)]
    )
    assert [(c.previous, c.status) for c in changes] == [(Status.ACCEPTED, Status.SUBMITTED)]
    assert (await store.find_parts_by_upstream_ids("simulator", ["up-1", "x"])) == {
        "up-1": (m.id, 0)
    }
    assert [
        c.status
        for c in await store.apply_updates([PartUpdate(m.id, 0, Status.DELIVERED, NOW + 2)])
    ] == [Status.DELIVERED]
    # A late intermediate report and a contradicting final one are both ignored.
    assert await store.apply_updates([PartUpdate(m.id, 0, Status.SUBMITTED, NOW + 3)]) == []
    assert await store.apply_updates([PartUpdate(m.id, 0, Status.UNDELIVERED, NOW + 4)]) == []
    record = await store.get_message(account_id=account_id, message_id=m.id)
    assert record is not None and record.status is Status.DELIVERED
    assert record.submitted_at == NOW + 1 and record.done_at == NOW + 2
    assert record.parts[0].upstream_id == "up-1" and record.parts[0].attempts == 1


async def test_multipart_message_is_delivered_only_when_every_part_is(store: Store) -> None:
    account_id = await _account(store)
    m = _message(account_id, parts=2)
    await store.insert_messages([m], owner="a")
    await store.apply_updates(
        [PartUpdate(m.id, i, Status.SUBMITTED, NOW, upstream_id=f"u{i}") for i in (0, 1)]
    )
    assert await store.apply_updates([PartUpdate(m.id, 0, Status.DELIVERED, NOW + 1)]) == []
    changes = await store.apply_updates(
        [PartUpdate(m.id, 1, Status.UNDELIVERED, NOW + 2, error_code="0x0B")]
    )
    assert [c.status for c in changes] == [Status.UNDELIVERED]
    record = await store.get_message(account_id=account_id, message_id=m.id)
    assert record is not None and record.error_code == "0x0B"


async def test_retry_returns_the_part_to_the_queue_later(store: Store) -> None:
    account_id = await _account(store)
    m = _message(account_id)
    await store.insert_messages([m], owner="a")
    await store.apply_updates(
        [
            PartUpdate(
                m.id, 0, Status.QUEUED, NOW, error_code="0x45", retry_at=NOW + 30, attempt=True
            )
        ]
    )
    assert await store.claim_parts(node_id="a", limit=5, now=NOW + 10) == []
    (part,) = await store.claim_parts(node_id="a", limit=5, now=NOW + 31)
    assert part.attempts == 1


async def test_a_held_part_goes_back_without_an_attempt_and_a_failover_moves_it(
    store: Store,
) -> None:
    account_id = await _account(store)
    m = _message(account_id)
    await store.insert_messages([m], owner="a")
    # Held back (every connector of its route out of rotation): no attempt is counted.
    await store.apply_updates([PartUpdate(m.id, 0, Status.QUEUED, NOW, retry_at=NOW + 5)])
    (part,) = await store.claim_parts(node_id="a", limit=5, now=NOW + 5)
    assert (part.attempts, part.connector) == (0, "simulator")
    # A temporary failure that fails over: due at once, on the route's next connector.
    await store.apply_updates(
        [
            PartUpdate(
                m.id,
                0,
                Status.QUEUED,
                NOW + 6,
                error_code="connection",
                retry_at=NOW + 6,
                attempt=True,
                connector="backup",
            )
        ]
    )
    (part,) = await store.claim_parts(node_id="b", limit=5, now=NOW + 6)
    assert (part.attempts, part.connector) == (1, "backup")
    await store.apply_updates(
        [PartUpdate(m.id, 0, Status.SUBMITTED, NOW + 7, upstream_id="x1", attempt=True)]
    )
    assert await store.find_parts_by_upstream_ids(connector="backup", upstream_ids=["x1"]) == {
        "x1": (m.id, 0)
    }


async def test_validity_sweep_takes_only_unowned_queued_parts_past_their_validity(
    store: Store,
) -> None:
    account_id = await _account(store)
    expired = _message(account_id, parts=2, expires_at=NOW + 10)
    owned = _message(account_id, expires_at=NOW + 10)
    valid = _message(account_id, expires_at=NOW + 100)
    forever = _message(account_id)
    sent = _message(account_id, expires_at=NOW + 10)
    await store.insert_messages([expired, valid, forever, sent], owner=None)
    await store.insert_messages([owned], owner="busy")
    await store.apply_updates([PartUpdate(sent.id, 0, Status.SUBMITTED, NOW, upstream_id="s")])
    assert await store.claim_expired(node_id="a", limit=10, now=NOW + 5) == []
    keys = await store.claim_expired(node_id="a", limit=10, now=NOW + 11)
    assert sorted(keys) == [(expired.id, 0), (expired.id, 1)]
    # Taken: nobody claims them for sending meanwhile, and a second sweep does not see them.
    claimed = await store.claim_parts(node_id="b", limit=10, now=NOW + 11)
    assert {p.message_id for p in claimed} == {valid.id, forever.id}
    assert await store.claim_expired(node_id="a", limit=10, now=NOW + 11) == []
    changes = await store.apply_updates(
        [
            PartUpdate(k.message_id, k.seq, Status.EXPIRED, NOW + 11, error_code="expired")
            for k in keys
        ]
    )
    assert [(c.message_id, c.status) for c in changes] == [(expired.id, Status.EXPIRED)]


async def test_smpp_parts_arriving_separately_form_one_message(store: Store) -> None:
    account_id = await _account(store)
    first = _message(account_id, parts=1, segments=2, origin_system_id="esme1", body="")
    first = _with_part_receipts(first, esme_receipt=1)
    await store.insert_messages([first], owner=None)
    await store.apply_updates([PartUpdate(first.id, 0, Status.SUBMITTED, NOW, upstream_id="a")])
    # Part 0 delivered, part 1 not even arrived: the message must not be final yet.
    assert await store.apply_updates([PartUpdate(first.id, 0, Status.DELIVERED, NOW + 1)]) == []
    second = NewMessage(
        **{
            **_fields(first),
            "parts": (NewPart(1, "gsm7", 0, b"", b"there", esme_receipt=1),),
            "continuation": True,
            "body": "hello there",
        }
    )
    await store.insert_messages([second], owner=None)
    await store.apply_updates([PartUpdate(first.id, 1, Status.SUBMITTED, NOW + 2, upstream_id="b")])
    changes = await store.apply_updates([PartUpdate(first.id, 1, Status.DELIVERED, NOW + 3)])
    assert [c.status for c in changes] == [Status.DELIVERED]
    record = await store.get_message(account_id=account_id, message_id=first.id)
    assert record is not None and record.segments == 2 and len(record.parts) == 2

    owed = await store.claim_outbox(
        node_id="n", system_ids=["esme1"], limit=10, now=NOW + 4, lease=30
    )
    assert [(o.receipted_id, o.status) for o in owed] == [
        (f"{first.id}-1", "delivered"),
        (f"{first.id}-2", "delivered"),
    ]
    assert owed[0].source == first.destination and owed[0].destination == first.source
    # Leased: not handed out again until the lease runs out, then again; completed: gone.
    assert (
        await store.claim_outbox(node_id="m", system_ids=["esme1"], limit=10, now=NOW + 5, lease=30)
        == []
    )
    again = await store.claim_outbox(
        node_id="m", system_ids=["esme1"], limit=10, now=NOW + 40, lease=30
    )
    assert [o.id for o in again] == [o.id for o in owed] and again[0].attempts == 2
    await store.complete_outbox([o.id for o in again])
    assert (
        await store.claim_outbox(
            node_id="m", system_ids=["esme1"], limit=10, now=NOW + 99, lease=30
        )
        == []
    )


async def test_a_repeated_final_receipt_owes_the_esme_nothing_more(store: Store) -> None:
    account_id = await _account(store)
    message = _with_part_receipts(
        _message(account_id, parts=2, origin_system_id="esme1"), esme_receipt=1
    )
    await store.insert_messages([message], owner=None)
    for seq in (0, 1):
        await store.apply_updates(
            [PartUpdate(message.id, seq, Status.SUBMITTED, NOW, upstream_id=f"u{seq}")]
        )
    await store.apply_updates([PartUpdate(message.id, 0, Status.DELIVERED, NOW + 1)])
    owed = await store.claim_outbox(
        node_id="n", system_ids=["esme1"], limit=10, now=NOW + 2, lease=30
    )
    assert [o.receipted_id for o in owed] == [f"{message.id}-1"]
    await store.complete_outbox([o.id for o in owed])
    # The carrier sends part 1's receipt twice more, and part 2's final one with them.
    await store.apply_updates(
        [
            PartUpdate(message.id, 0, Status.DELIVERED, NOW + 3),
            PartUpdate(message.id, 0, Status.UNDELIVERED, NOW + 4),
            PartUpdate(message.id, 1, Status.DELIVERED, NOW + 4),
        ]
    )
    owed = await store.claim_outbox(
        node_id="n", system_ids=["esme1"], limit=10, now=NOW + 5, lease=30
    )
    assert [(o.receipted_id, o.status) for o in owed] == [(f"{message.id}-2", "delivered")]


async def test_receipt_on_failure_only_is_owed_only_for_failures(store: Store) -> None:
    account_id = await _account(store)
    ok = _with_part_receipts(_message(account_id, origin_system_id="e"), esme_receipt=2)
    bad = _with_part_receipts(_message(account_id, origin_system_id="e"), esme_receipt=2)
    await store.insert_messages([ok, bad], owner=None)
    await store.apply_updates(
        [
            PartUpdate(ok.id, 0, Status.DELIVERED, NOW),
            PartUpdate(bad.id, 0, Status.UNDELIVERED, NOW),
        ]
    )
    owed = await store.claim_outbox(node_id="n", system_ids=["e"], limit=10, now=NOW, lease=5)
    assert [o.receipted_id for o in owed] == [bad.id]
    await store.release_outbox([owed[0].id])
    assert (
        len(await store.claim_outbox(node_id="n", system_ids=["e"], limit=10, now=NOW, lease=5))
        == 1
    )
    assert await store.expire_outbox(now=NOW + 10 * 86400) == 1


async def test_a_status_write_hands_receipts_leased_to_the_node_that_asked(store: Store) -> None:
    account_id = await _account(store)
    ours = [
        _with_part_receipts(_message(account_id, origin_system_id="e1"), esme_receipt=1)
        for _ in range(3)
    ]
    theirs = _with_part_receipts(_message(account_id, origin_system_id="e2"), esme_receipt=1)
    await store.insert_messages([*ours, theirs], owner=None)
    take = OutboxTake("n", {"e1": 2}, NOW, NOW + 30)
    applied = await store.apply_updates_and_take(
        [PartUpdate(m.id, 0, Status.DELIVERED, NOW) for m in (*ours, theirs)], take
    )
    assert len(applied.changes) == 4
    # Two of e1's, as many as the take has room for; e1's third and e2's wait in the outbox.
    assert [(o.system_id, o.status, o.attempts) for o in applied.taken] == [
        ("e1", "delivered", 1),
        ("e1", "delivered", 1),
    ]
    assert {o.receipted_id for o in applied.taken} < {m.id for m in ours}
    assert applied.left == 2
    assert applied.taken[0].source == ours[0].destination
    # Leased to n: no claim returns them until the lease runs out.
    left = await store.claim_outbox(
        node_id="m", system_ids=["e1", "e2"], limit=10, now=NOW + 1, lease=30
    )
    assert sorted(o.system_id for o in left) == ["e1", "e2"]
    assert not {o.id for o in left} & {o.id for o in applied.taken}
    expired = await store.claim_outbox(
        node_id="m", system_ids=["e1"], limit=10, now=NOW + 31, lease=30
    )
    assert sorted(o.id for o in expired) == sorted(o.id for o in applied.taken)
    assert {o.attempts for o in expired} == {2}


async def test_a_repeated_final_status_hands_over_no_second_receipt(store: Store) -> None:
    account_id = await _account(store)
    message = _with_part_receipts(_message(account_id, origin_system_id="e1"), esme_receipt=1)
    await store.insert_messages([message], owner=None)
    take = OutboxTake("n", {"e1": 10}, NOW, NOW + 30)
    first = await store.apply_updates_and_take(
        [PartUpdate(message.id, 0, Status.DELIVERED, NOW)], take
    )
    assert [o.receipted_id for o in first.taken] == [message.id]
    # The same final status again in one write (a carrier repeating itself): nothing new owed.
    again = await store.apply_updates_and_take(
        [PartUpdate(message.id, 0, Status.DELIVERED, NOW + 1)], take
    )
    assert (again.changes, again.taken, again.left) == ([], [], 0)


async def test_smpp_credentials_round_trip(store: Store) -> None:
    from gateway.domain import SmppCredential

    account_id = await _account(store)
    cred = SmppCredential("esme1", account_id, "scrypt$x", ("10.0.0.0/8", "127.0.0.1/32"), 4, 50.0)
    await store.add_smpp_credential(cred, now=NOW)
    assert await store.smpp_credential("esme1") == cred
    assert await store.smpp_credential("nobody") is None


def _fields(m: NewMessage) -> dict[str, object]:
    return {name: getattr(m, name) for name in m.__dataclass_fields__}


def _with_part_receipts(m: NewMessage, *, esme_receipt: int) -> NewMessage:
    parts = tuple(
        NewPart(p.seq, p.encoding, p.data_coding, p.udh, p.payload, esme_receipt=esme_receipt)
        for p in m.parts
    )
    return NewMessage(**{**_fields(m), "parts": parts})  # type: ignore[arg-type]


async def test_parked_receipts_match_once_the_upstream_id_is_stored(store: Store) -> None:
    from gateway.store import ParkedReceipt

    account_id = await _account(store)
    m = _message(account_id)
    await store.insert_messages([m], owner="a")
    await store.park_receipts(
        [
            ParkedReceipt("simulator", "up-9", "submitted", "ENROUTE", None, NOW),
            ParkedReceipt("simulator", "up-9", "delivered", "DELIVERED", None, NOW + 1),
            ParkedReceipt("simulator", "up-9", "submitted", "ACCEPTED", None, NOW + 2),  # late
            ParkedReceipt("simulator", "nobody", "delivered", "DELIVERED", None, NOW),
        ]
    )
    assert await store.match_parked(limit=10) == []
    await store.apply_updates([PartUpdate(m.id, 0, Status.SUBMITTED, NOW, upstream_id="up-9")])
    ((parked, key),) = await store.match_parked(limit=10)
    assert key == (m.id, 0) and parked.status == "delivered"  # a final one is never replaced
    await store.unpark([("simulator", "up-9")])
    assert await store.match_parked(limit=10) == []
    assert await store.expire_parked(older_than=NOW + 5) == 1  # "nobody"


async def test_parked_receipts_are_bounded_in_number(store: Store) -> None:
    from gateway.store import ParkedReceipt

    await store.park_receipts(
        [
            ParkedReceipt("simulator", f"ghost-{i}", "delivered", "DELIVERED", None, NOW + i)
            for i in range(10)
        ]
    )
    # None is old enough to expire, but only the newest 4 are kept.
    assert await store.expire_parked(older_than=NOW - 1, keep=4) == 6
    assert await store.expire_parked(older_than=NOW - 1, keep=4) == 0


async def test_take_for_cancel_never_takes_from_another_node(store: Store) -> None:
    account_id = await _account(store)
    mine, free, theirs = (_message(account_id, parts=2) for _ in range(3))
    await store.insert_messages([mine], owner="me")
    await store.insert_messages([free], owner=None)
    await store.insert_messages([theirs], owner="other")
    assert await store.take_for_cancel(message_id=mine.id, node_id="me") == []
    assert sorted(await store.take_for_cancel(message_id=free.id, node_id="me") or []) == [0, 1]
    assert await store.take_for_cancel(message_id=theirs.id, node_id="me") is None
    # Nothing of "theirs" changed hands; "free" is ours now, so no other node claims it.
    assert await store.claim_parts(node_id="third", limit=10, now=NOW + 1) == []
    await store.untake(message_id=free.id, seqs=[0, 1], node_id="me")
    assert len(await store.claim_parts(node_id="third", limit=10, now=NOW + 1)) == 2


async def test_inbound_parts_assemble_once_and_resent_parts_are_dropped(store: Store) -> None:
    from gateway.domain import InboundPart
    from gateway.inbound import MO_TTL, assemble

    parts = [
        InboundPart("+4915112345678", "12345", "gsm7", 0, body, "c", NOW, (3, 2, seq))
        for seq, body in ((2, b"there"), (1, b"hi "))
    ]
    assert await store.add_inbound_part(parts[0], assemble=assemble, mo_ttl=MO_TTL) is None
    whole = await store.add_inbound_part(parts[1], assemble=assemble, mo_ttl=MO_TTL)
    assert whole is not None and whole.text == "hi there" and not whole.incomplete
    assert await store.add_inbound_part(parts[0], assemble=assemble, mo_ttl=MO_TTL) is None
    assert (
        await store.expire_inbound_parts(older_than=NOW + 1, assemble=assemble, mo_ttl=MO_TTL) == []
    )


async def test_a_receipt_that_overtakes_the_submit_record_still_dates_the_submission(
    store: Store,
) -> None:
    account_id = await _account(store)
    m = _message(account_id)
    await store.insert_messages([m], owner="a")
    # The carrier's receipt is committed before the submit response's update...
    await store.apply_updates(
        [PartUpdate(m.id, 0, Status.DELIVERED, NOW + 2, upstream_id="abc", connector="simulator")]
    )
    # ...which the lifecycle guard then drops: the part must not look never sent.
    await store.apply_updates(
        [PartUpdate(m.id, 0, Status.SUBMITTED, NOW + 3, upstream_id="abc", attempt=True)]
    )
    record = await store.get_message(account_id=account_id, message_id=m.id)
    assert record is not None and record.status is Status.DELIVERED
    (part,) = record.parts
    assert part.status is Status.DELIVERED and part.upstream_id == "abc"
    assert part.submitted_at == NOW + 2 and part.done_at == NOW + 2


async def test_claiming_one_priority_takes_only_that_lane(store: Store) -> None:
    account_id = await _account(store)
    otp = [_message(account_id, message_type=MessageType.OTP) for _ in range(3)]
    promotional = [_message(account_id, message_type=MessageType.PROMOTIONAL) for _ in range(2)]
    await store.insert_messages([*otp, *promotional], owner=None)
    claimed = await store.claim_parts(
        node_id="a", limit=10, now=NOW + 1, priority=MessageType.PROMOTIONAL.priority
    )
    assert {p.message_id for p in claimed} == {m.id for m in promotional}
    rest = await store.claim_parts(node_id="b", limit=10, now=NOW + 1)
    assert {p.message_id for p in rest} == {m.id for m in otp}


async def test_stored_connectors_insert_update_delete_and_bump_the_config_version(
    store: Store,
) -> None:
    version = await store.config_version()
    made = StoredConnector("b", "admin", "smpp", '{"host":"h"}', 5.0, True, NOW, NOW)
    await store.insert_connector(made)
    assert await store.config_version() > version
    with pytest.raises(ConnectorExists):
        await store.insert_connector(made)
    assert await store.get_stored_connector("b") == made
    stopped = StoredConnector("a", "config", "smpp", "{}", 0.0, False, NOW, NOW)
    await store.put_connector(stopped)
    changed = StoredConnector("b", "admin", "smpp", '{"host":"i"}', 0.0, False, NOW, NOW + 1)
    version = await store.config_version()
    await store.put_connector(changed)
    assert await store.config_version() > version
    assert await store.list_stored_connectors() == [stopped, changed]
    version = await store.config_version()
    assert await store.delete_connector("b")
    assert await store.config_version() > version
    assert not await store.delete_connector("b")
    assert await store.get_stored_connector("b") is None
