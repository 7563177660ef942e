"""Dispatch: moves committed parts to their connectors.

The store is the queue; memory holds a bounded window of it. Intake hands freshly committed parts
straight to this node's lanes when there is room (they were committed as owned by this node, so
nobody else takes them); a feeder claims more from the store as room frees: parts that did not fit,
scheduled parts that came due, retries, and parts left by a node that died (its heartbeat went
stale). Each connector has three priority lanes (OTP, transactional, promotional) drained
strictly in that order, and as many workers as it has room in flight (binds x window).

A part is sent at least once: a node that crashes after the carrier accepted a part but before
the response was committed sends it again on recovery. Everything else is exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence

from gateway.connector import Connector
from gateway.domain import PartRecord, PartUpdate, Status
from gateway.metrics import Metrics
from gateway.ratelimit import Gcra
from gateway.receipts import ReceiptCorrelator
from gateway.status import StatusWriter
from gateway.store import Store

log = logging.getLogger(__name__)

LANES = 3  # MessageType priorities 0..2


class Lanes:
    """Priority lanes of one connector: the lowest non-empty lane is served first."""

    def __init__(self) -> None:
        self._lanes: list[deque[PartRecord]] = [deque() for _ in range(LANES)]
        self._ready = asyncio.Event()
        self.size = 0

    def put(self, part: PartRecord) -> None:
        self._lanes[min(part.priority, LANES - 1)].append(part)
        self.size += 1
        self._ready.set()

    def remove(self, message_id: str) -> int:
        removed = 0
        for i, lane in enumerate(self._lanes):
            kept = deque(p for p in lane if p.message_id != message_id)
            removed += len(lane) - len(kept)
            self._lanes[i] = kept
        self.size -= removed
        return removed

    async def get(self) -> PartRecord:
        while True:
            for lane in self._lanes:
                if lane:
                    self.size -= 1
                    if not self.size:
                        self._ready.clear()
                    return lane.popleft()
            self._ready.clear()
            await self._ready.wait()


class RetryPolicy:
    def __init__(self, *, base: float, cap: float, max_attempts: int) -> None:
        self.base = base
        self.cap = cap
        self.max_attempts = max_attempts

    def delay(self, attempts: int) -> float:
        """Exponential backoff with full jitter (retries from many parts do not synchronise)."""
        return random.uniform(0, min(self.cap, self.base * 2 ** max(attempts - 1, 0)))


class Dispatcher:
    def __init__(
        self,
        *,
        store: Store,
        status: StatusWriter,
        receipts: ReceiptCorrelator,
        metrics: Metrics,
        connectors: Mapping[str, Connector],
        default_connector: str,
        node_id: str,
        capacity: int,
        retry: RetryPolicy,
        rates: Mapping[str, float] | None = None,
        heartbeat_interval: float = 5.0,
        heartbeat_ttl: float = 30.0,
        claim_batch: int = 1000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._status = status
        self._receipts = receipts
        self._metrics = metrics
        self._connectors = dict(connectors)
        self._default = default_connector
        self.node_id = node_id
        self.capacity = capacity
        self._retry = retry
        self._limits = {name: Gcra(rate) for name, rate in (rates or {}).items() if rate > 0}
        self._heartbeat_interval = heartbeat_interval
        self._heartbeat_ttl = heartbeat_ttl
        self._claim_batch = claim_batch
        self._clock = clock
        self._lanes = {name: Lanes() for name in self._connectors}
        self._held = 0  # parts in lanes or in flight
        self._reserved = 0  # promised to intake, not yet handed over
        self._room = asyncio.Event()
        self._submitted: list[PartUpdate] = []  # submit results waiting for the recorder
        self._max_unrecorded = max(capacity, 1000)
        self._unrecorded = asyncio.Event()
        self._recorded = asyncio.Event()
        self._recorder: asyncio.Task[None] | None = None
        self._in_flight = 0
        self._sending: dict[str, int] = {}  # message id -> parts being sent
        self._idle = asyncio.Event()  # set while no submit is in flight
        self._idle.set()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    # -- intake side ------------------------------------------------------------------------

    def reserve(self, parts: int) -> bool:
        """Promise room for `parts` that are about to be committed as owned by this node."""
        if self._stopping or self._held + self._reserved + parts > self.capacity:
            return False
        self._reserved += parts
        return True

    def cancel_reservation(self, parts: int) -> None:
        self._reserved -= parts
        self._room.set()

    def hand_over(self, parts: Sequence[PartRecord], *, reserved: int) -> None:
        """Take committed parts reserved for earlier."""
        self._reserved -= reserved
        self._push(parts)

    def _push(self, parts: Sequence[PartRecord]) -> None:
        for part in parts:
            name = part.connector if part.connector in self._lanes else self._default
            self._lanes[name].put(part)
        self._held += len(parts)

    def in_flight(self, message_id: str) -> bool:
        """Whether a part of the message is being sent by this node right now."""
        return message_id in self._sending

    def withdraw(self, message_id: str) -> int:
        """Take a message's parts out of this node's lanes (it was cancelled)."""
        removed = sum(lanes.remove(message_id) for lanes in self._lanes.values())
        self._held -= removed
        return removed

    def queue_depths(self) -> dict[str, int]:
        return {name: lanes.size for name, lanes in self._lanes.items()}

    @property
    def queued(self) -> int:
        return sum(lanes.size for lanes in self._lanes.values())

    @property
    def held(self) -> int:
        return self._held

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        # Parts this node id held before a crash or restart are ours to send again now,
        # rather than after our old heartbeat goes stale.
        released = await self._store.release_owned(node_id=self.node_id)
        if released:
            log.info("recovered %d queued parts held by this node before restart", released)
        await self._store.heartbeat(node_id=self.node_id, now=self._clock())
        for name, connector in self._connectors.items():
            for i in range(max(connector.capacity, 1)):
                self._tasks.append(
                    asyncio.create_task(self._work(name, connector), name=f"dispatch-{name}-{i}")
                )
        self._tasks.append(asyncio.create_task(self._feed(), name="dispatch-feeder"))
        self._recorder = asyncio.create_task(self._record(), name="dispatch-recorder")
        self._tasks.append(asyncio.create_task(self._keep_alive(), name="dispatch-heartbeat"))

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop taking work, let in-flight submits finish (bounded), hand back the rest."""
        self._stopping = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout)
        for task in self._tasks:
            task.cancel()
        for result in await asyncio.gather(*self._tasks, return_exceptions=True):
            if isinstance(result, Exception):
                log.error("a dispatch task had failed: %r", result)
        self._tasks.clear()
        # Everything the carrier accepted is recorded before the leases are handed back.
        deadline = time.monotonic() + 10
        while self._submitted and time.monotonic() < deadline:
            self._unrecorded.set()
            await asyncio.sleep(0.01)
        if self._recorder is not None:
            self._recorder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recorder
        await self._status.drain()
        await self._store.release_owned(node_id=self.node_id)

    # -- workers ----------------------------------------------------------------------------

    async def _work(self, name: str, connector: Connector) -> None:
        lanes = self._lanes[name]
        limit = self._limits.get(name)
        while not self._stopping:
            part = await lanes.get()
            self._in_flight += 1
            self._idle.clear()
            self._sending[part.message_id] = self._sending.get(part.message_id, 0) + 1
            try:
                if limit is not None:
                    await limit.take(1)
                await self._send(name, connector, part)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("dispatch of a part failed unexpectedly")
                if part.attempts + 1 < self._retry.max_attempts:
                    update = self._retry_update(part, "internal", f"dispatch error: {exc}")
                else:
                    update = PartUpdate(
                        part.message_id,
                        part.seq,
                        Status.FAILED,
                        self._clock(),
                        error_code="internal",
                        error_detail=f"dispatch error: {exc}",
                        attempt=True,
                    )
                await self._apply([update])
            finally:
                self._held -= 1
                self._in_flight -= 1
                left = self._sending.pop(part.message_id) - 1
                if left:
                    self._sending[part.message_id] = left
                if not self._in_flight:
                    self._idle.set()
                self._room.set()

    async def _send(self, name: str, connector: Connector, part: PartRecord) -> None:
        now = self._clock()
        if part.expires_at is not None and now >= part.expires_at:
            await self._apply(
                [PartUpdate(part.message_id, part.seq, Status.EXPIRED, now, error_code="expired")]
            )
            return
        started = time.perf_counter()
        outcome = await connector.submit(part)
        self._metrics.submit_latency.labels(connector=name).observe(time.perf_counter() - started)
        now = self._clock()
        if outcome.upstream_id is not None:
            self._metrics.parts_submitted.labels(connector=name, outcome="accepted").inc()
            update = PartUpdate(
                part.message_id,
                part.seq,
                Status.SUBMITTED,
                now,
                upstream_id=outcome.upstream_id,
                attempt=True,
                connector=name if name != part.connector else None,
            )
            self._receipts.sent(name, outcome.upstream_id, part.key)
            await self._record_submitted(update)
            return
        error = outcome.error
        code = error.raw_code if error else "unknown"
        detail = error.detail if error else "no upstream id and no error"
        if error is not None and error.temporary and part.attempts + 1 < self._retry.max_attempts:
            self._metrics.parts_submitted.labels(connector=name, outcome="retry").inc()
            await self._apply([self._retry_update(part, code, detail)])
            return
        self._metrics.parts_submitted.labels(connector=name, outcome="failed").inc()
        final = Status.FAILED if error is None or error.temporary else Status.REJECTED
        await self._apply(
            [
                PartUpdate(
                    part.message_id,
                    part.seq,
                    final,
                    now,
                    error_code=code,
                    error_detail=detail,
                    attempt=True,
                )
            ]
        )

    async def _apply(self, updates: list[PartUpdate]) -> None:
        """Write status updates, retrying with backoff while the store is unreachable: a worker
        must outlive a store outage, or the parts this node holds would stay stuck (its
        heartbeat goes on, so no other node takes them). Gives up only when stopping; the parts
        are then still owned by this node and are taken back when it starts again."""
        delay = 0.2
        while True:
            try:
                await self._status.apply(updates)
                return
            except Exception:
                if self._stopping:
                    log.exception("could not record a status update while stopping")
                    return
                log.exception("recording a status update failed; retrying in %.1f s", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _record_submitted(self, update: PartUpdate) -> None:
        """Hand a carrier's acceptance to the recorder, which commits them in batches: the
        worker takes its next part at once instead of waiting for the commit. Bounded: when
        the store falls behind, workers wait here."""
        while len(self._submitted) >= self._max_unrecorded:
            self._recorded.clear()
            await self._recorded.wait()
        self._submitted.append(update)
        self._unrecorded.set()

    async def _record(self) -> None:
        while True:
            await self._unrecorded.wait()
            self._unrecorded.clear()
            while self._submitted:
                batch, self._submitted = self._submitted, []
                self._recorded.set()
                await self._apply(batch)
                # Receipts parked because they came before these ids were stored can match now.
                self._receipts.ids_recorded()

    def _retry_update(self, part: PartRecord, code: str, detail: str) -> PartUpdate:
        now = self._clock()
        return PartUpdate(
            part.message_id,
            part.seq,
            Status.QUEUED,
            now,
            error_code=code,
            error_detail=detail,
            retry_at=now + self._retry.delay(part.attempts + 1),
            attempt=True,
        )

    # -- feeding from the store -------------------------------------------------------------

    async def _feed(self) -> None:
        while True:
            room = self.capacity - self._held - self._reserved
            claimed = 0
            if room > 0 and not self._stopping:
                try:
                    parts = await self._store.claim_parts(
                        node_id=self.node_id, limit=min(room, self._claim_batch), now=self._clock()
                    )
                except Exception:
                    log.exception("claiming parts from the store failed")
                    parts = []
                self._push(parts)
                claimed = len(parts)
            if claimed and claimed == min(room, self._claim_batch):
                continue  # more may be waiting
            self._room.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._room.wait(), timeout=0.5)
            # Let a burst of completions accumulate into one claim rather than many small ones.
            await asyncio.sleep(0.01)

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_interval)
            try:
                now = self._clock()
                await self._store.heartbeat(node_id=self.node_id, now=now)
                released = await self._store.release_stale(now=now, ttl=self._heartbeat_ttl)
                if released:
                    log.warning("took back %d parts from nodes that stopped heartbeating", released)
                    self._room.set()
            except Exception:
                log.exception("node heartbeat failed")
