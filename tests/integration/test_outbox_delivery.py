"""SmppOutboxDelivery against a real store: what it claims it holds in memory and sends as
receivers make room, without a store round trip per deliver_sm; what cannot go (no receiver
left, held too long, stopping) goes back to the outbox, never lost."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from gateway.delivery import SmppOutboxDelivery
from gateway.domain import OutboxItem, PartUpdate, Status, new_id
from gateway.smpp.codes import CommandStatus
from gateway.smpp.pdu import DeliverSm
from gateway.status import StatusWriter
from gateway.store import Store
from tests.integration.test_store_contract import _message as contract_message

NOW = 1_700_000_000.0


class Receiver:
    """A receiver bind with a window: what it was sent, answered by the test."""

    def __init__(self, window: int) -> None:
        self.window = window
        self.in_flight: list[OutboxItem] = []
        self.sent: list[OutboxItem] = []

    @property
    def delivery_room(self) -> int:
        return self.window - len(self.in_flight)

    def deliver(self, item: OutboxItem, pdu: DeliverSm) -> None:
        assert item.receipted_id and item.receipted_id.encode() in pdu.short_message
        self.in_flight.append(item)
        self.sent.append(item)


class Registry:
    def __init__(self) -> None:
        self.bound: dict[str, list[Receiver]] = {}

    def receivers(self, system_id: str) -> Sequence[Receiver]:
        return self.bound.get(system_id, [])

    def receiving_system_ids(self) -> Sequence[str]:
        return [s for s, receivers in self.bound.items() if receivers]


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


async def _owe_receipts(store: Store, count: int, system_id: str = "esme1") -> None:
    account_id = new_id()
    await store.create_account(account_id=account_id, name=f"acme-{account_id}", now=NOW)
    messages = [
        contract_message(account_id, origin_system_id=system_id, esme_receipt=1)
        for _ in range(count)
    ]
    await store.insert_messages(messages, owner=None)
    await store.apply_updates([PartUpdate(m.id, 0, Status.DELIVERED, NOW) for m in messages])


async def _until(condition: object, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.005)


async def _claimable(store: Store, clock: Clock) -> int:
    items = await store.claim_outbox(
        node_id="other", system_ids=["esme1"], limit=100, now=clock.now, lease=30
    )
    await store.release_outbox([i.id for i in items])
    return len(items)


async def test_answers_make_room_for_held_items_without_a_claim_each(store: Store) -> None:
    await _owe_receipts(store, 30)
    registry, receiver, clock = Registry(), Receiver(window=5), Clock()
    registry.bound["esme1"] = [receiver]
    claims = 0
    claim_outbox = store.claim_outbox

    async def counting_claim(**kwargs: object) -> list[OutboxItem]:
        nonlocal claims
        claims += 1
        return await claim_outbox(**kwargs)  # type: ignore[arg-type]

    store.claim_outbox = counting_claim  # type: ignore[method-assign]
    delivery = SmppOutboxDelivery(
        store=store, registry=registry, node_id="n", batch=100, poll_interval=60, clock=clock
    )
    delivery.start()
    try:
        await _until(lambda: len(receiver.sent) == 5)
        while len(receiver.sent) < 30:
            # The ESME answers everything in flight; the next ones follow from memory.
            answered, receiver.in_flight = receiver.in_flight, []
            for item in answered:
                delivery.answered(item, CommandStatus.ESME_ROK)
            await _until(lambda: receiver.in_flight or len(receiver.sent) == 30)
        assert claims == 1  # all 30 held after one claim
        assert len({i.id for i in receiver.sent}) == 30
        for item in receiver.in_flight:
            delivery.answered(item, CommandStatus.ESME_ROK)
        receiver.in_flight = []
        await _until(lambda: delivery.acknowledged == 30)
    finally:
        await delivery.stop()
    assert await _claimable(store, clock) == 0  # every acknowledged row removed


async def test_held_items_go_back_when_the_receiver_leaves_or_on_stop(store: Store) -> None:
    await _owe_receipts(store, 10)
    registry, receiver, clock = Registry(), Receiver(window=2), Clock()
    registry.bound["esme1"] = [receiver]
    delivery = SmppOutboxDelivery(
        store=store, registry=registry, node_id="n", batch=100, poll_interval=0.01, clock=clock
    )
    delivery.start()
    await _until(lambda: len(receiver.sent) == 2)
    # The bind closes: its two unanswered deliver_sm and the eight held come back.
    registry.bound["esme1"] = []
    delivery.lost(receiver.in_flight)
    await _until(lambda: delivery._held == 0)
    await delivery.stop()
    assert await _claimable(store, clock) == 10

    # Stopping with items held gives them back at once, not after their lease.
    receiver = Receiver(window=1)
    registry.bound["esme1"] = [receiver]
    delivery = SmppOutboxDelivery(
        store=store, registry=registry, node_id="n", batch=100, poll_interval=0.01, clock=clock
    )
    delivery.start()
    await _until(lambda: len(receiver.sent) == 1)
    await delivery.stop()
    # The nine held are released; the one unanswered stays leased until its lease ends.
    assert await _claimable(store, clock) == 9


async def test_an_item_held_past_half_its_lease_goes_back_to_the_outbox(store: Store) -> None:
    await _owe_receipts(store, 3)
    registry, receiver, clock = Registry(), Receiver(window=1), Clock()
    registry.bound["esme1"] = [receiver]
    delivery = SmppOutboxDelivery(
        store=store,
        registry=registry,
        node_id="n",
        lease=30,
        batch=100,
        poll_interval=0.01,
        clock=clock,
    )
    delivery.start()
    try:
        await _until(lambda: len(receiver.sent) == 1)
        clock.now += 16  # the ESME sat on its window past half the lease
        delivery.answered(receiver.in_flight.pop(), CommandStatus.ESME_ROK)
        # The two held are stale: released and claimed afresh, then sent.
        await _until(lambda: len(receiver.sent) == 2)
        assert receiver.sent[1].attempts == 2
    finally:
        await delivery.stop()


def _handing_over(
    store: Store, registry: Registry, clock: Clock, *, batch: int, hold: int, poll: float
) -> tuple[SmppOutboxDelivery, StatusWriter]:
    """A started delivery that a status writer hands receipts to."""
    delivery = SmppOutboxDelivery(
        store=store, registry=registry, node_id="n", batch=batch, hold=hold,
        poll_interval=poll, clock=clock,
    )  # fmt: skip
    status = StatusWriter(store=store)
    status.hand_receipts_to(delivery)
    delivery.start()
    return delivery, status


async def test_a_status_write_hands_receipts_over_without_a_claim(store: Store) -> None:
    """Receipts owed to a system_id with a receiver bound here come leased from the status
    write and are sent from memory; those for a system_id bound elsewhere stay in the outbox."""
    registry, receiver, clock = Registry(), Receiver(window=50), Clock()
    registry.bound["esme1"] = [receiver]
    claims: list[list[OutboxItem]] = []
    claim_outbox = store.claim_outbox

    async def recording_claim(**kwargs: object) -> list[OutboxItem]:
        items = await claim_outbox(**kwargs)  # type: ignore[arg-type]
        claims.append(items)
        return items

    store.claim_outbox = recording_claim  # type: ignore[method-assign]
    delivery, status = _handing_over(store, registry, clock, batch=20, hold=40, poll=60)
    try:
        await _until(lambda: claims)  # the claim at start: nothing owed yet
        account_id = new_id()
        await store.create_account(account_id=account_id, name="acme", now=NOW)
        ours = [
            contract_message(account_id, origin_system_id="esme1", esme_receipt=1)
            for _ in range(25)
        ]
        theirs = contract_message(account_id, origin_system_id="esme2", esme_receipt=1)
        await store.insert_messages([*ours, theirs], owner=None)
        await status.apply([PartUpdate(m.id, 0, Status.DELIVERED, NOW) for m in (*ours, theirs)])
        # 20 handed over (esme1's share, half of `hold`), sent at once; 5 and esme2's left.
        await _until(lambda: len(receiver.sent) == 20)
        assert {i.attempts for i in receiver.sent} == {1}
        # The 6 left woke a claim: esme1's 5 come from it, esme2's stays for its own receiver.
        await _until(lambda: len(receiver.sent) == 25)
        assert sum(len(c) for c in claims) == 5
        assert {i.receipted_id for i in receiver.sent} == {m.id for m in ours}
        for item in receiver.in_flight:
            delivery.answered(item, CommandStatus.ESME_ROK)
        await _until(lambda: delivery.acknowledged == 25)
    finally:
        await delivery.stop()
    owed = await claim_outbox(
        node_id="other", system_ids=["esme1", "esme2"], limit=100, now=clock.now, lease=30
    )
    assert [i.system_id for i in owed] == ["esme2"]


async def test_nothing_is_handed_over_to_a_stopped_delivery_or_without_receivers(
    store: Store,
) -> None:
    registry, clock = Registry(), Clock()
    delivery = SmppOutboxDelivery(store=store, registry=registry, node_id="n", clock=clock)
    registry.bound["esme1"] = [Receiver(window=1)]
    assert delivery.offer() is None  # not started
    delivery.start()
    try:
        await _until(lambda: delivery.offer() is not None)  # once an earlier run's are released
        take = delivery.offer()
        assert take is not None and take.room == {"esme1": 2000} and take.node_id == "n"
        assert take.lease_until == clock.now + 30
        registry.bound["esme1"] = []
        assert delivery.offer() is None  # no receiver bound here
    finally:
        await delivery.stop()
    registry.bound["esme1"] = [Receiver(window=1)]
    assert delivery.offer() is None


async def test_receipts_only_a_claim_finds_go_out_while_answers_keep_coming(store: Store) -> None:
    """Every answer wakes the delivery, so its wait never times out under load: a receipt
    committed by another node is still looked for once per poll interval."""
    registry, busy, clock = Registry(), Receiver(window=1), Clock()
    registry.bound["esme1"] = [busy]
    await _owe_receipts(store, 200)
    delivery = SmppOutboxDelivery(
        store=store, registry=registry, node_id="n", batch=500, poll_interval=0.05, clock=clock
    )
    delivery.start()
    try:
        await _until(lambda: busy.sent)
        other = Receiver(window=10)
        registry.bound["esme2"] = [other]
        await _owe_receipts(store, 1, system_id="esme2")  # written by another node: no wake
        async with asyncio.timeout(5):
            while not other.sent:
                # esme1 answers at once, one deliver_sm at a time: a wake every few ms.
                delivery.answered(busy.in_flight.pop(), CommandStatus.ESME_ROK)
                await _until(lambda: busy.in_flight or other.sent)
        assert len(busy.sent) < 200  # it came while esme1's were still flowing
    finally:
        await delivery.stop()


async def test_a_receiver_that_stops_answering_holds_up_only_its_own(store: Store) -> None:
    registry, stuck, clock = Registry(), Receiver(window=1), Clock()
    registry.bound["stuck"] = [stuck]
    delivery, status = _handing_over(store, registry, clock, batch=10, hold=40, poll=0.05)
    try:
        await _until(lambda: delivery.offer() is not None)
        account_id = new_id()
        await store.create_account(account_id=account_id, name="acme", now=NOW)
        owed = [
            contract_message(account_id, origin_system_id="stuck", esme_receipt=1)
            for _ in range(30)
        ]
        await store.insert_messages(owed, owner=None)
        await status.apply([PartUpdate(m.id, 0, Status.DELIVERED, NOW) for m in owed])
        await _until(lambda: stuck.sent)
        take = delivery.offer()
        # Its share (half of `hold`: 20) is held: 19 in memory, 1 sent; room for that one only.
        assert take is None or take.room.get("stuck", 0) <= 1
        # Another ESME binds and is owed receipts: handed over and claimed, not held up.
        fine = Receiver(window=100)
        registry.bound["fine"] = [fine]
        more = [
            contract_message(account_id, origin_system_id="fine", esme_receipt=1) for _ in range(20)
        ]
        await store.insert_messages(more, owner=None)
        await status.apply([PartUpdate(m.id, 0, Status.DELIVERED, NOW) for m in more])
        await _until(lambda: len(fine.sent) == 20)
        assert delivery._held <= 40
    finally:
        await delivery.stop()


async def test_receipts_handed_over_after_stop_go_back_at_once(store: Store) -> None:
    registry, clock = Registry(), Clock()
    registry.bound["esme1"] = [Receiver(window=5)]
    delivery = SmppOutboxDelivery(store=store, registry=registry, node_id="n", clock=clock)
    delivery.start()
    await _until(lambda: delivery.offer() is not None)
    take = delivery.offer()
    await delivery.stop()  # while the status write below is "in flight"
    account_id = new_id()
    await store.create_account(account_id=account_id, name="acme", now=NOW)
    owed = [contract_message(account_id, origin_system_id="esme1", esme_receipt=1)]
    await store.insert_messages(owed, owner=None)
    applied = await store.apply_updates_and_take(
        [PartUpdate(owed[0].id, 0, Status.DELIVERED, NOW)], take
    )
    assert len(applied.taken) == 1
    delivery.taken(take, applied.taken, applied.left)
    await _until(lambda: not delivery._late_flushes)
    assert await _claimable(store, clock) == 1  # released, not leased for 30 s
