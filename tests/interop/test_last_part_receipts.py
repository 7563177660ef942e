"""The rule behind `receipts_for=last`, on both stores: a final receipt for part N is the
verdict for parts 1..N too, without overwriting an earlier part's own verdict, and also when
the receipt was parked because it came before the submit response.

(Kept beside the interop tests that drive it end to end against the independent SMSC.)
"""

from __future__ import annotations

from gateway.connector import UpstreamReceipt
from gateway.domain import MessageType, NewMessage, NewPart, PartUpdate, Status, new_id
from gateway.metrics import Metrics
from gateway.receipts import ReceiptCorrelator
from gateway.status import StatusWriter
from gateway.store import Store


async def _three_part_message(store: Store) -> tuple[str, str]:
    account = await store.create_account(account_id=new_id(), name="a", now=1.0)
    message = NewMessage(
        id=new_id(), account_id=account.id, source="Acme", destination="+4915112345678",
        body="x" * 400, encoding="gsm7", message_type=MessageType.TRANSACTIONAL, connector="c",
        parts=tuple(NewPart(seq, "gsm7", 0, b"", b"x") for seq in range(3)), created_at=1.0,
    )  # fmt: skip
    await store.insert_messages([message], owner="node-a")
    return account.id, message.id


async def _part_statuses(
    store: Store, account_id: str, message_id: str
) -> tuple[Status, list[Status]]:
    record = await store.get_message(account_id=account_id, message_id=message_id)
    assert record is not None
    return record.status, [p.status for p in sorted(record.parts, key=lambda p: p.seq)]


async def test_last_part_receipt_covers_earlier_parts_but_keeps_their_own_verdicts(
    store: Store,
) -> None:
    account_id, message_id = await _three_part_message(store)
    status = StatusWriter(store=store)
    await status.apply(
        [
            PartUpdate(message_id, seq, Status.SUBMITTED, 2.0, upstream_id=f"up-{seq}")
            for seq in range(3)
        ]
    )
    correlator = ReceiptCorrelator(store=store, status=status, metrics=Metrics())
    correlator.cover_earlier_parts("c")
    await correlator.receipts_received(
        "c", [UpstreamReceipt("up-1", Status.UNDELIVERED, "UNDELIVERABLE", "034")]
    )
    assert await _part_statuses(store, account_id, message_id) == (
        Status.SUBMITTED,
        [Status.UNDELIVERED, Status.UNDELIVERED, Status.SUBMITTED],
    )
    await correlator.receipts_received(
        "c", [UpstreamReceipt("up-2", Status.DELIVERED, "DELIVERED")]
    )
    assert await _part_statuses(store, account_id, message_id) == (
        Status.UNDELIVERED,
        [Status.UNDELIVERED, Status.UNDELIVERED, Status.DELIVERED],
    )


async def test_intermediate_receipt_for_the_last_part_covers_nothing(store: Store) -> None:
    account_id, message_id = await _three_part_message(store)
    status = StatusWriter(store=store)
    await status.apply([PartUpdate(message_id, 2, Status.SUBMITTED, 2.0, upstream_id="up-2")])
    correlator = ReceiptCorrelator(store=store, status=status, metrics=Metrics())
    correlator.cover_earlier_parts("c")
    _, before = await _part_statuses(store, account_id, message_id)
    assert before[:2] == [Status.QUEUED, Status.QUEUED]  # taken by node-a, not yet sent
    await correlator.receipts_received("c", [UpstreamReceipt("up-2", Status.SUBMITTED, "ENROUTE")])
    _, parts = await _part_statuses(store, account_id, message_id)
    assert parts == [Status.QUEUED, Status.QUEUED, Status.SUBMITTED]  # ENROUTE moved no other part


async def test_parked_last_part_receipt_covers_the_message_when_matched(store: Store) -> None:
    account_id, message_id = await _three_part_message(store)
    status = StatusWriter(store=store)
    correlator = ReceiptCorrelator(store=store, status=status, metrics=Metrics())
    correlator.cover_earlier_parts("c")
    # The receipt for the last part comes before any submit response: parked.
    await correlator.receipts_received(
        "c", [UpstreamReceipt("up-2", Status.DELIVERED, "DELIVERED")]
    )
    await status.apply(
        [
            PartUpdate(message_id, seq, Status.SUBMITTED, 2.0, upstream_id=f"up-{seq}")
            for seq in range(3)
        ]
    )
    await correlator.recheck()
    assert await _part_statuses(store, account_id, message_id) == (
        Status.DELIVERED,
        [Status.DELIVERED] * 3,
    )


async def test_without_the_rule_a_last_part_receipt_leaves_the_message_waiting(
    store: Store,
) -> None:
    account_id, message_id = await _three_part_message(store)
    status = StatusWriter(store=store)
    await status.apply(
        [
            PartUpdate(message_id, seq, Status.SUBMITTED, 2.0, upstream_id=f"up-{seq}")
            for seq in range(3)
        ]
    )
    correlator = ReceiptCorrelator(store=store, status=status, metrics=Metrics())
    await correlator.receipts_received(
        "c", [UpstreamReceipt("up-2", Status.DELIVERED, "DELIVERED")]
    )
    assert await _part_statuses(store, account_id, message_id) == (
        Status.SUBMITTED,
        [Status.SUBMITTED, Status.SUBMITTED, Status.DELIVERED],
    )
