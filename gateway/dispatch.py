"""Dispatch: moves committed parts to their connectors.

The store is the queue; memory holds a bounded window of it. Intake hands freshly committed parts
straight to this node's lanes when there is room (they were committed as owned by this node, so
nobody else takes them); the feeder (gateway/feeder.py) claims the rest as room frees. Each
connector has three priority lanes (OTP, transactional, promotional) drained in that order,
except that a lower lane passed over long enough gets a turn (`LANE_PATIENCE`), so no class of
traffic starves; and as many workers as it has room in flight (binds x window).

Each connector is held to its rate (gateway/connector_rates.py: configured, and AIMD after a
throttle); an account with a sending rate has its parts over it set aside until its tokens come
(gateway/pacing.py), without holding a worker. A throttled part (ESME_RTHROTTLED, HTTP 429) goes
back to its lane without counting an attempt. A connector with no bind up, or whose circuit
breaker is open after repeated failures, hands its parts to the next connector of their route;
a temporary error is retried with backoff, and from the `failover_after`-th attempt on the next
connector of the route. The expiry sweep (gateway/expiry_sweep.py) ends parts past their
validity or waiting too long for a receipt.

Connectors come and go at run time (`gateway/connector_set.py` calls `connector_changed`): a
new one gets lanes and workers; a replaced one gets new workers on the same lanes while the old
ones finish the part they hold (its response is awaited, so nothing is lost or sent twice) and
then exit; a stopped one keeps its lanes with one worker that fails its parts over as when its
binds are down, or hands them back to the store to wait (no attempt counted); a removed one's
parts go to the connector their route names now.

A part is sent at least once: a node that crashes after the carrier accepted a part but before
the response was committed sends it again on recovery. Everything else is exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from gateway.circuit import BreakerState, CircuitBreaker
from gateway.connector import Connector, SubmitOutcome
from gateway.connector_rates import ConnectorRates
from gateway.domain import MessageType, PartRecord, PartUpdate, Status
from gateway.expiry_sweep import ExpirySweep
from gateway.feeder import Feeder
from gateway.lanes import Lanes
from gateway.metrics import Metrics
from gateway.pacing import AccountPacer
from gateway.ratelimit import MemoryRateLimiter, RateLimiter
from gateway.receipts import ReceiptCorrelator
from gateway.routing import Route, Router
from gateway.status import StatusWriter
from gateway.store import Store
from gateway.text import Concatenation, Encoding, body_units, capacity

if TYPE_CHECKING:
    from gateway.connector_set import ConnectorSpec

log = logging.getLogger(__name__)

# A part held for a stopped connector with nowhere else to go waits in the store this long
# before it is looked at again.
STOPPED_RECHECK = 2.0

_TYPE_BY_PRIORITY = {t.priority: t.value for t in MessageType}
_UP_STATES = frozenset({"bound", "up"})


class RetryPolicy:
    def __init__(
        self, *, base: float, cap: float, max_attempts: int, failover_after: int = 2
    ) -> None:
        self.base = base
        self.cap = cap
        self.max_attempts = max_attempts
        # From this attempt on, a temporary failure moves the part to the route's next connector.
        self.failover_after = failover_after

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
        connectors: Mapping[str, Connector | None],
        default_connector: str,
        node_id: str,
        capacity: int,
        retry: RetryPolicy,
        router: Router | None = None,
        rates: Mapping[str, float] | None = None,
        limiter: RateLimiter | None = None,
        breakers: Mapping[str, CircuitBreaker] | None = None,
        breaker_factory: Callable[[], CircuitBreaker] = CircuitBreaker,
        account_rates: Mapping[str, float] | None = None,
        heartbeat_interval: float = 5.0,
        heartbeat_ttl: float = 30.0,
        expiry_interval: float = 5.0,
        receipt_timeout: float | None = None,
        claim_batch: int = 1000,
        drain_timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._status = status
        self._receipts = receipts
        self._metrics = metrics
        # None: stopped (its lanes are kept and failed over or handed back to wait).
        self._connectors: dict[str, Connector | None] = dict(connectors)
        self._removed: set[str] = set()
        self._generation: dict[str, object] = {}  # workers of an older one exit
        self._workers: dict[str, list[asyncio.Task[None]]] = {}
        self._waiting: set[asyncio.Task[None]] = set()  # workers waiting for a part
        self._started = False
        self._drain_timeout = drain_timeout
        self._default = default_connector
        self.node_id = node_id
        self.capacity = capacity
        self._retry = retry
        self._router = router or Router(default=default_connector)
        limiter = limiter or MemoryRateLimiter()
        self._rates = ConnectorRates(limiter=limiter, metrics=metrics, rates=dict(rates or {}))
        # Accounts with a sending rate (segments/s by account id), on the same limiter.
        self._pacer = AccountPacer(limiter=limiter, rates=account_rates or {})
        self._breaker_factory = breaker_factory
        self._breakers = {name: breaker_factory() for name in self._connectors}
        self._breakers.update(breakers or {})
        self._bound: dict[str, tuple[float, bool]] = {}  # connector -> (checked at, any bind up)
        self._expiry = ExpirySweep(
            store=store,
            apply=self._apply,
            metrics=metrics,
            node_id=node_id,
            interval=expiry_interval,
            receipt_timeout=receipt_timeout,
            batch=claim_batch,
            clock=clock,
        )
        self._clock = clock
        self._lanes = {name: Lanes() for name in self._connectors}
        self._held = 0  # parts in lanes or in flight
        self._reserved = 0  # promised to intake, not yet handed over
        self._feeder = Feeder(
            store=store,
            node_id=node_id,
            room=lambda: 0 if self._stopping else self.capacity - self._held - self._reserved,
            push=self._push,
            batch=claim_batch,
            heartbeat_interval=heartbeat_interval,
            heartbeat_ttl=heartbeat_ttl,
            clock=clock,
        )
        self._submitted: list[PartUpdate] = []  # submit results waiting for the recorder
        self._max_unrecorded = max(capacity, 1000)
        self._unrecorded = asyncio.Event()
        self._recorded = asyncio.Event()
        self._recorder: asyncio.Task[None] | None = None
        self._in_flight = 0
        self._busy: dict[str, int] = {}  # connector -> its workers holding a part
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
        self._feeder.wake()

    def hand_over(self, parts: Sequence[PartRecord], *, reserved: int) -> None:
        """Take committed parts reserved for earlier."""
        self._reserved -= reserved
        self._push(parts)

    def _push(self, parts: Sequence[PartRecord]) -> None:
        for part in parts:
            self._lanes[self._lane_for(part)].put(part)
        self._held += len(parts)

    def _lane_for(self, part: PartRecord) -> str:
        """The part's own connector; for one removed or unknown here, the first connector of the
        part's route (as routed now) this node has, else the default route's."""
        if part.connector in self._lanes and part.connector not in self._removed:
            return part.connector
        for name in self._route(part).connectors:
            if name in self._lanes and name not in self._removed:
                return name
        return self._default

    def in_flight(self, message_id: str) -> bool:
        """Whether a part of the message is being sent by this node right now."""
        return message_id in self._sending

    def withdraw(self, message_id: str) -> int:
        """Take a message's parts out of this node's lanes (it was cancelled)."""
        removed = sum(lanes.remove(message_id) for lanes in self._lanes.values())
        removed += self._pacer.withdraw(message_id)
        self._held -= removed
        return removed

    def queue_depths(self) -> dict[str, int]:
        return {n: lanes.size for n, lanes in self._lanes.items() if n not in self._removed}

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
        self._started = True
        for name in self._connectors:
            self._spawn(name)
        self._tasks.append(asyncio.create_task(self._feeder.feed(), name="dispatch-feeder"))
        self._recorder = asyncio.create_task(self._record(), name="dispatch-recorder")
        self._tasks.append(
            asyncio.create_task(self._feeder.keep_alive(), name="dispatch-heartbeat")
        )
        self._tasks.append(asyncio.create_task(self._expiry.run(), name="dispatch-expiry"))

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop taking work, let in-flight submits finish (bounded), hand back the rest."""
        self._stopping = True
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that
        # lands as its timeout fires, and this task would then never end.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._wait_idle()
        await self._pacer.stop()
        tasks = self._tasks + [t for workers in self._workers.values() for t in workers]
        for task in tasks:
            task.cancel()
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, Exception):
                log.error("a dispatch task had failed: %r", result)
        self._tasks.clear()
        self._workers.clear()
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

    async def _wait_idle(self) -> None:
        """Until no worker holds a part, or those that do all wait for a bind of a connector
        that is down: nothing of theirs is on the wire, and their parts go back to the store
        with the leases (a SIGTERM while a carrier is down need not wait the whole timeout)."""
        while not self._idle.is_set():
            busy = [name for name, count in self._busy.items() if count]
            if busy and not any(self._is_up(name) for name in busy):
                log.info("dispatch: %s down; parts waiting for a bind are handed back", busy)
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.2):
                    await self._idle.wait()

    # -- connectors changing at run time ----------------------------------------------------

    async def connector_changed(
        self, name: str, connector: Connector | None, spec: ConnectorSpec | None
    ) -> None:
        """`name` now runs `connector` (None: stopped), or is gone (`spec` None). Returns once
        the workers of the one it had are done with their parts: the caller may then stop it."""
        if spec is None:
            if name not in self._connectors or name == self._default:
                return
            self._removed.add(name)
            self._connectors[name] = None
        else:
            self._removed.discard(name)
            replaced = name in self._connectors
            self._connectors[name] = connector
            self._lanes.setdefault(name, Lanes())
            if not replaced or connector is not None:
                # A new carrier, or new options: its failure record starts afresh.
                self._breakers[name] = self._breaker_factory()
            self._rates.set(name, spec.rate)
        self._bound.pop(name, None)
        old = self._workers.pop(name, [])
        if self._started and not self._stopping:
            self._spawn(name)
        await self._retire(old)
        self._feeder.wake()

    def _spawn(self, name: str) -> None:
        connector = self._connectors[name]
        generation = self._generation[name] = object()
        count = 1 if connector is None else max(connector.capacity, 1)
        self._workers[name] = [
            asyncio.create_task(
                self._work(name, connector, generation), name=f"dispatch-{name}-{i}"
            )
            for i in range(count)
        ]

    async def _retire(self, workers: list[asyncio.Task[None]]) -> None:
        """Let workers of a replaced connector finish the part each holds, then end. One that
        waits for a part is cancelled: `Lanes.get` takes a part only after its last await, so
        the part stays in its lane. One still busy after `drain_timeout` is waiting for a bind
        of a connector that is down (a submit on the wire is answered or times out within the
        connector's response timeout, 10 s by default): it is cancelled and hands its part,
        unsent, back to the store."""
        for task in workers:
            if task in self._waiting:
                task.cancel()
        if not workers:
            return
        _, busy = await asyncio.wait(workers, timeout=self._drain_timeout)
        if busy:
            log.warning(
                "%d dispatch workers still waiting for their connector: cancelled", len(busy)
            )
            for task in busy:
                task.cancel()
        for result in await asyncio.gather(*workers, return_exceptions=True):
            if isinstance(result, Exception):
                log.error("a dispatch worker had failed: %r", result)

    # -- workers ----------------------------------------------------------------------------

    async def _work(self, name: str, connector: Connector | None, generation: object) -> None:
        lanes = self._lanes[name]
        task = asyncio.current_task()
        assert task is not None
        while not self._stopping and self._generation.get(name) is generation:
            self._waiting.add(task)
            try:
                part = await lanes.get()
            finally:
                self._waiting.discard(task)
            self._in_flight += 1
            self._busy[name] = self._busy.get(name, 0) + 1
            self._idle.clear()
            self._sending[part.message_id] = self._sending.get(part.message_id, 0) + 1
            try:
                if name in self._removed:
                    self._lanes[self._lane_for(part)].put(part)
                    self._held += 1
                    continue
                target = self._choose(name, part)
                if target != name:
                    self._metrics.failovers.labels(from_connector=name, to_connector=target).inc()
                    self._lanes[target].put(part)
                    self._held += 1
                    continue
                if connector is None:  # stopped, and no other connector of the route is up
                    self._pacer.forget(part)
                    await self._apply([self._wait_update(name, part)])
                    continue
                if not self._pacer.admit(part, lanes.put):
                    self._held += 1  # waits for its account's rate, then back to this lane
                    continue
                if self._rates.limited(name):
                    await self._rates.take(name)
                await self._send(name, connector, part)
            except asyncio.CancelledError:
                if self._generation.get(name) is not generation and not self._stopping:
                    # Retired while its connector had no bind up (`_retire`): nothing was sent.
                    await self._apply([self._wait_update(name, part, again=0.0)])
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
                self._busy[name] -= 1
                left = self._sending.pop(part.message_id) - 1
                if left:
                    self._sending[part.message_id] = left
                if not self._in_flight:
                    self._idle.set()
                self._feeder.wake()

    # -- routing between connectors ---------------------------------------------------------

    def _is_up(self, name: str) -> bool:
        """Whether any bind of the connector is up; read from its health at most every 0.2 s.
        A stopped connector is down."""
        now = time.monotonic()
        checked = self._bound.get(name)
        if checked is None or now - checked[0] > 0.2:
            connector = self._connectors.get(name)
            binds = connector.health() if connector is not None else []
            up = connector is not None and (not binds or any(b.state in _UP_STATES for b in binds))
            checked = (now, up)
            self._bound[name] = checked
        return checked[1]

    def _available(self, name: str) -> bool:
        """A connector another one may hand parts to: up and in rotation."""
        return (
            self._connectors.get(name) is not None
            and self._breakers[name].available()
            and self._is_up(name)
        )

    def _route(self, part: PartRecord) -> Route:
        return self._router.route(
            account_id=part.account_id,
            destination=part.destination,
            message_type=_TYPE_BY_PRIORITY.get(part.priority, "transactional"),
            source=part.source,
        )

    def _alternatives(self, name: str, part: PartRecord) -> list[str]:
        route = self._route(part)
        whole = _is_whole_long_text(part)
        return [
            c
            for c in route.after(name)
            if c != name and self._available(c) and (not whole or self._takes_whole_texts(c))
        ]

    def _takes_whole_texts(self, name: str) -> bool:
        """Whether a connector was set to send a long text whole (`payload`). A whole text cut
        for such a connector fails over only to another one: elsewhere it would go out as a
        message_payload the carrier may not read, or may truncate."""
        concatenation = getattr(self._connectors.get(name), "concatenation", Concatenation.UDH8)
        return bool(concatenation == Concatenation.PAYLOAD)

    def _choose(self, name: str, part: PartRecord) -> str:
        """The connector to send `part` through: its own unless that one is down or out of
        rotation and the route has another that is not. With nowhere better to go the part
        stays: an SMPP connector waits for a bind, and anything else fails and is retried."""
        if self._is_up(name) and self._breakers[name].allow():
            return name
        alternatives = self._alternatives(name, part)
        return alternatives[0] if alternatives else name

    async def _send(self, name: str, connector: Connector, part: PartRecord) -> None:
        now = self._clock()
        if part.expires_at is not None and now >= part.expires_at:
            self._metrics.parts_expired.inc()
            await self._apply(
                [PartUpdate(part.message_id, part.seq, Status.EXPIRED, now, error_code="expired")]
            )
            return
        started = time.perf_counter()
        outcome = await connector.submit(part)
        latency = time.perf_counter() - started
        self._metrics.child(self._metrics.submit_latency, name).observe(latency)
        if outcome.upstream_id is not None:
            self._breakers[name].succeeded()
            self._rates.carried(name)
            self._metrics.child(self._metrics.parts_submitted, name, "accepted").inc()
            update = PartUpdate(
                part.message_id,
                part.seq,
                Status.SUBMITTED,
                self._clock(),
                upstream_id=outcome.upstream_id,
                attempt=True,
                connector=name if name != part.connector else None,
            )
            self._receipts.sent(name, outcome.upstream_id, part.key)
            await self._record_submitted(update)
            return
        await self._failed(name, part, outcome)

    async def _failed(self, name: str, part: PartRecord, outcome: SubmitOutcome) -> None:
        error = outcome.error
        code = error.raw_code if error else "unknown"
        detail = error.detail if error else "no upstream id and no error"
        if error is not None and error.throttled:
            # Not the part's fault: back to its lane, and the connector slows down.
            self._metrics.parts_submitted.labels(connector=name, outcome="throttled").inc()
            self._rates.throttled(name)
            self._lanes[name].put(part)
            self._held += 1
            return
        if error is not None and error.temporary:
            self._breakers[name].failed()
            if part.attempts + 1 < self._retry.max_attempts:
                self._metrics.parts_submitted.labels(connector=name, outcome="retry").inc()
                target = None
                if part.attempts + 1 >= self._retry.failover_after:
                    target = next(iter(self._alternatives(name, part)), None)
                if target is not None:
                    self._metrics.failovers.labels(from_connector=name, to_connector=target).inc()
                await self._apply([self._retry_update(part, code, detail, failover=target)])
                return
        else:
            self._breakers[name].succeeded()  # the carrier answered: it is up
        self._metrics.parts_submitted.labels(connector=name, outcome="failed").inc()
        final = Status.FAILED if error is None or error.temporary else Status.REJECTED
        await self._apply(
            [
                PartUpdate(
                    part.message_id,
                    part.seq,
                    final,
                    self._clock(),
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

    def _wait_update(
        self, name: str, part: PartRecord, again: float = STOPPED_RECHECK
    ) -> PartUpdate:
        """Back to the store, due again in `again` s, without counting an attempt: its
        connector was stopped or replaced by an operator and it could not go elsewhere."""
        now = self._clock()
        return PartUpdate(
            part.message_id,
            part.seq,
            Status.QUEUED,
            now,
            error_code="connector_stopped",
            error_detail=f"connector {name} is stopped or being replaced",
            retry_at=now + again,
        )

    def _retry_update(
        self, part: PartRecord, code: str, detail: str, *, failover: str | None = None
    ) -> PartUpdate:
        """Back to the shared queue: after a backoff on the same connector, or due at once on
        the route's next connector."""
        now = self._clock()
        return PartUpdate(
            part.message_id,
            part.seq,
            Status.QUEUED,
            now,
            error_code=code,
            error_detail=detail,
            retry_at=now if failover else now + self._retry.delay(part.attempts + 1),
            attempt=True,
            connector=failover,
        )

    def breaker_states(self) -> dict[str, BreakerState]:
        return {n: b.state for n, b in self._breakers.items() if n not in self._removed}


def _is_whole_long_text(part: PartRecord) -> bool:
    """A part that is a whole text longer than one segment (cut for a `payload` connector)."""
    if part.udh or part.total != 1:
        return False
    encoding = Encoding(part.encoding)
    return body_units(encoding, part.payload) > capacity(encoding, 0)
