"""Delivery: drains what the gateway owes its users. Here: receipts and inbound messages owed
to ESMEs, sent as deliver_sm on their receiver binds.

Store-and-forward: the outbox row is written with the final status (one transaction), waits
while no receiver of that system_id is bound on any node, and is deleted only when an ESME
acknowledges the deliver_sm. Each node leases the rows it sends, so several nodes never send one
row at once; a row whose deliver_sm went unanswered, or whose node died, is leased again when its
lease runs out. At-least-once: an ESME may see a receipt twice, never zero times.

A receipt whose ESME has a receiver bound on the node that committed the final status is
inserted already leased to that node and handed over from the status write (`offer`/`taken`):
no claim has to find it again. On PostgreSQL, under SMPP load, the claims had cost a fifth of
the database's CPU, scanning past the rows held leased in memory on every claim.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from gateway.domain import OutboxItem, OutboxTake, Status
from gateway.smpp.address import to_smpp
from gateway.smpp.codes import CommandStatus
from gateway.smpp.pdu import DeliverSm
from gateway.smpp.receipt import MessageState, Receipt, build_receipt_pdu
from gateway.smpp.tlv import NetworkErrorCode, Tlv
from gateway.store import Store
from gateway.text import Encoding, UnencodableText, encode_text

log = logging.getLogger(__name__)

_STATE = {
    Status.DELIVERED: MessageState.DELIVERED,
    Status.UNDELIVERED: MessageState.UNDELIVERABLE,
    Status.EXPIRED: MessageState.EXPIRED,
    Status.REJECTED: MessageState.REJECTED,
    Status.FAILED: MessageState.UNDELIVERABLE,
    Status.CANCELLED: MessageState.DELETED,
}


class Receiver(Protocol):
    @property
    def delivery_room(self) -> int: ...
    def deliver(self, item: OutboxItem, pdu: DeliverSm) -> None: ...


class ReceiverRegistry(Protocol):
    def receivers(self, system_id: str) -> Sequence[Receiver]: ...
    def receiving_system_ids(self) -> Sequence[str]: ...


def receipt_pdu(item: OutboxItem) -> DeliverSm:
    status = Status(item.status) if item.status else Status.UNDELIVERED
    delivered = status is Status.DELIVERED
    receipt = Receipt(
        message_id=item.receipted_id or "",
        state=_STATE.get(status, MessageState.UNKNOWN),
        error_code="000" if delivered else _err(item.error_code),
        submitted=1,
        delivered=1 if delivered else 0,
        submit_date=_date(item.submitted_at),
        done_date=_date(item.done_at),
        text=item.text,
        # SMPP 3.4 §5.3.2.31: network type 3 is GSM; the code is the upstream's error.
        network_error=None if delivered else NetworkErrorCode(3, _network_code(item.error_code)),
    )
    source, source_ton, source_npi = to_smpp(item.source)
    destination, destination_ton, destination_npi = to_smpp(item.destination)
    return build_receipt_pdu(
        receipt,
        source_addr=source,
        source_addr_ton=source_ton,
        source_addr_npi=source_npi,
        destination_addr=destination,
        dest_addr_ton=destination_ton,
        dest_addr_npi=destination_npi,
    )


def mo_pdu(item: OutboxItem) -> DeliverSm:
    """An MO for an ESME: one short_message when it fits one segment, else the whole text in
    message_payload (SMPP 3.4 §5.3.2.32), so no reassembly is pushed onto the ESME."""
    pinned = Encoding(item.encoding) if item.encoding in ("gsm7", "ucs2", "latin1") else None
    try:
        # No national shift tables: they would need a UDH, which message_payload cannot carry.
        encoded = encode_text(item.text, encoding=pinned, national_languages=())
    except UnencodableText:
        encoded = encode_text(item.text, encoding=Encoding.UCS2)
    body = b"".join(segment.payload for segment in encoded.segments)
    source, source_ton, source_npi = to_smpp(item.source)
    destination, destination_ton, destination_npi = to_smpp(item.destination)
    single = len(encoded.segments) == 1
    return DeliverSm(
        source_addr=source,
        source_addr_ton=source_ton,
        source_addr_npi=source_npi,
        destination_addr=destination,
        dest_addr_ton=destination_ton,
        dest_addr_npi=destination_npi,
        data_coding=encoded.data_coding,
        short_message=body if single else b"",
        tlvs={} if single else {Tlv.MESSAGE_PAYLOAD: body},
    )


class SmppOutboxDelivery:
    """Claims owed items in batches and keeps them in memory, per system_id, until a receiver
    has room: each acknowledged deliver_sm makes room for the next one at once, without a
    store round trip between them, so receipts keep pace with a busy store. Claimed items
    stay leased; one not sent within half its lease goes back to the outbox."""

    def __init__(
        self,
        *,
        store: Store,
        registry: ReceiverRegistry,
        node_id: str,
        lease: float = 30.0,
        batch: int = 1000,
        hold: int = 4000,
        poll_interval: float = 0.1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._registry = registry
        self._node_id = node_id
        self._lease = lease
        # Held in memory: claimed for a system_id while at most half of `batch` wait for it,
        # handed over from a status write while fewer than half of `hold` do (one write may
        # owe hundreds of receipts at once); for all system_ids at most `hold`.
        self._batch = batch
        self._hold = max(hold, batch)
        self._poll = poll_interval
        self._clock = clock
        self._wake = asyncio.Event()
        self._done: list[int] = []
        self._retry: list[int] = []
        # Claimed and leased, not yet sent: (item, claimed at), oldest first, per system_id.
        self._ready: dict[str, deque[tuple[OutboxItem, float]]] = {}
        self._held = 0  # items in _ready
        self._send_scheduled = False
        # Whether the outbox may hold something claimable: after a claim came back short,
        # only a new status, a bind, an item handed back or the poll make it worth a look.
        self._maybe_more = True
        self._looked_at = float("-inf")  # time.monotonic() of the last claim
        # Hand-overs only once the leases of an earlier run of this node id are released (they
        # would release a new one too), and not after stop (nothing would send them).
        self._serving = False
        self._late_flushes: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self.sent = 0
        self.acknowledged = 0

    def wake(self) -> None:
        """Something may be owed, or a receiver bound: look now."""
        self._maybe_more = True
        self._wake.set()

    def offer(self) -> OutboxTake | None:
        """What the next status write may lease to this node and hand over at once: receipts
        for the system_ids with a receiver open here, each up to its share of what is held (a
        receiver that stopped answering holds up only its own)."""
        free = self._hold - self._held
        if not self._serving or free <= 0:
            return None
        room: dict[str, int] = {}
        for system_id in self._registry.receiving_system_ids():
            if not self._registry.receivers(system_id):
                continue
            share = min(self._hold // 2 - len(self._ready.get(system_id, ())), free)
            if share > 0:
                room[system_id] = share
                free -= share
            if free <= 0:
                break
        if not room:
            return None
        now = self._clock()
        return OutboxTake(self._node_id, room, now, now + self._lease)

    def taken(self, take: OutboxTake | None, items: Sequence[OutboxItem], left: int) -> None:
        """A status write committed: `items` are leased to this node as of `take.at`; `left`
        receipts wait in the outbox for a claim."""
        if take is not None and items:
            if not self._serving:  # stopped while the write was in flight: give them back
                self._retry.extend(item.id for item in items)
                task = asyncio.get_running_loop().create_task(self._release_late())
                self._late_flushes.add(task)
                task.add_done_callback(self._late_flushes.discard)
            else:
                for item in items:
                    self._ready.setdefault(item.system_id, deque()).append((item, take.at))
                self._held += len(items)
                self._schedule_send()
        if left:
            self.wake()

    async def _release_late(self) -> None:
        # Best effort: if the store is already closed, the leases run out instead.
        try:
            await self._flush_answers()
        except Exception:
            log.warning("receipts handed over after stop wait for their lease to run out")

    def answered(self, item: OutboxItem, status: int) -> None:
        if status == CommandStatus.ESME_ROK:
            self._done.append(item.id)
            self.acknowledged += 1
        else:
            self._retry.append(item.id)
            self._maybe_more = True
        self._schedule_send()
        self._wake.set()

    def lost(self, items: Sequence[OutboxItem]) -> None:
        """A bind closed with deliver_sm unanswered: hand them back at once."""
        self._retry.extend(item.id for item in items)
        self._maybe_more = True
        self._schedule_send()  # what waits for that system_id may go to another receiver
        self._wake.set()

    async def run(self) -> None:
        # Leases this node id held before a restart are ours to use now, not in 30 seconds.
        with contextlib.suppress(Exception):
            await self._store.release_outbox_owned(node_id=self._node_id)
        self._serving = True
        last_expiry = 0.0
        while True:
            self._wake.clear()
            try:
                await self._flush_answers()
                self._send_ready()
                if time.monotonic() - self._looked_at >= self._poll:
                    # Acknowledgements wake this loop often enough that the wait below may
                    # never time out: rows only a claim finds (another node's receipts, MOs,
                    # leases run out) are looked for at least once per poll interval.
                    self._maybe_more = True
                full = await self._claim()
                self._send_ready()
                now = self._clock()
                if now - last_expiry > 60:
                    last_expiry = now
                    expired = await self._store.expire_outbox(now=now)
                    if expired:
                        log.warning(
                            "%d receipts expired before any ESME receiver took them", expired
                        )
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("SMPP outbox delivery failed; retrying")
                full = False
            if not full:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that
                # lands as its timeout fires, and this task would then never end.
                try:
                    async with asyncio.timeout(self._poll):
                        await self._wake.wait()
                except TimeoutError:
                    self._maybe_more = True  # other nodes' rows, expired leases

    async def _flush_answers(self) -> None:
        done, self._done = self._done, []
        retry, self._retry = self._retry, []
        try:
            if done:
                await self._store.complete_outbox(done)
                done = []
            if retry:
                await self._store.release_outbox(retry)
                retry = []
        finally:  # what could not be written is written next time
            self._done[:0] = done
            self._retry[:0] = retry

    async def _claim(self) -> bool:
        """Top up what is held in memory for the system_ids with a receiver bound here; True
        when the claim came back full (more may be waiting)."""
        free = self._hold - self._held
        if not self._maybe_more or free <= 0:
            return False
        # Per system_id: one whose receivers are busy with plenty held waits; the others are
        # not held up by it.
        wanted = [
            s
            for s in self._registry.receiving_system_ids()
            if len(self._ready.get(s, ())) <= self._batch // 2
            and (any(r.delivery_room > 0 for r in self._registry.receivers(s)) or s in self._ready)
        ]
        if not wanted:
            return False
        limit = min(self._batch, free)
        self._looked_at = time.monotonic()
        items = await self._store.claim_outbox(
            node_id=self._node_id,
            system_ids=wanted,
            limit=limit,
            now=self._clock(),
            lease=self._lease,
        )
        claimed_at = self._clock()
        for item in items:
            self._ready.setdefault(item.system_id, deque()).append((item, claimed_at))
        self._held += len(items)
        self._maybe_more = len(items) >= limit
        return self._maybe_more

    def _schedule_send(self) -> None:
        # Answers arrive inside a connection's event handling: send after it, once per turn.
        if not self._send_scheduled and self._held:
            self._send_scheduled = True
            asyncio.get_running_loop().call_soon(self._send_ready)

    def _send_ready(self) -> None:
        """Send what is held while receivers have room; give back what cannot go."""
        self._send_scheduled = False
        if not self._held:
            return
        stale_before = self._clock() - self._lease / 2
        unsent: list[int] = []
        for system_id in list(self._ready):
            queue = self._ready[system_id]
            receivers = self._registry.receivers(system_id)
            while queue:
                item, claimed_at = queue[0]
                receiver = max(receivers, key=lambda r: r.delivery_room, default=None)
                if receiver is not None and claimed_at >= stale_before:
                    if receiver.delivery_room <= 0:
                        break
                    try:
                        receiver.deliver(
                            item, mo_pdu(item) if item.kind == "mo" else receipt_pdu(item)
                        )
                        self.sent += 1
                    except Exception:
                        log.exception(
                            "sending a deliver_sm failed; the item goes back to the outbox"
                        )
                        unsent.append(item.id)
                else:  # no receiver here any more, or held too long: back to the outbox
                    unsent.append(item.id)
                queue.popleft()
                self._held -= 1
            if not queue:
                del self._ready[system_id]
        if unsent:
            self._retry.extend(unsent)
            self._maybe_more = True
            self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="smpp-outbox")

    async def stop(self) -> None:
        self._serving = False
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for queue in self._ready.values():
            self._retry.extend(item.id for item, _ in queue)
        self._ready.clear()
        self._held = 0
        with contextlib.suppress(Exception):
            await self._flush_answers()


def _err(code: str | None) -> str:
    """The receipt's 3-character `err:` field from an upstream code such as 0x0000000B."""
    if not code:
        return "000"
    try:
        return f"{int(code, 0) & 0xFFF:03X}"[-3:] if code.startswith("0x") else code[-3:].zfill(3)
    except ValueError:
        return "999"


def _network_code(code: str | None) -> int:
    try:
        return int(code or "0", 0) & 0xFFFF
    except ValueError:
        return 0


def _date(epoch: float | None) -> datetime | None:
    # The receipt text carries minutes (YYMMDDhhmm), and the receipts sent in any one stretch
    # fall in a few minutes: one datetime per minute, not one per receipt.
    # Rounded to the microsecond first, as datetime.fromtimestamp rounds.
    return None if epoch is None else _minute(int(round(epoch, 6) // 60))


@functools.lru_cache(maxsize=64)
def _minute(minute: int) -> datetime:
    return datetime.fromtimestamp(minute * 60, UTC).replace(tzinfo=None)
