"""Delivery-receipt correlation: from the carrier's id back to our part.

A receipt names the carrier's message id. Usually this node sent that part moments ago and
matches it from memory; otherwise one indexed store lookup finds it. A receipt whose id is not
stored yet (a carrier that answers the receipt before the submit response, or a receipt that
reaches another node than the one that sent) is parked in the store before the carrier hears
that we have it, and matched by a periodic join against the parts as soon as the id is
stored, by whichever node. Parking is bounded in time: what expires unmatched is counted.

Some carriers send a receipt only for the last part of a concatenated message. For a connector
declared so (`cover_earlier_parts`), a final receipt for part N is applied to parts 0..N of its
message as well: the part is found by its own id, here or from the store, so this works on any
node and after a restart, and the lifecycle guard keeps any earlier part's own verdict.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from gateway.connector import Connector, UpstreamReceipt
from gateway.domain import PartKey, PartUpdate, Status
from gateway.metrics import Metrics
from gateway.status import StatusWriter
from gateway.store import ParkedReceipt, Store

if TYPE_CHECKING:
    from gateway.connector_set import ConnectorSpec

log = logging.getLogger(__name__)


class ReceiptCorrelator:
    def __init__(
        self,
        *,
        store: Store,
        status: StatusWriter,
        metrics: Metrics,
        park_ttl: float = 900.0,
        max_recent: int = 200_000,
        recheck_interval: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._status = status
        self._metrics = metrics
        self._park_ttl = park_ttl
        self._recheck_interval = recheck_interval
        self._clock = clock
        # Parts this node sent recently, by (connector, upstream id): most receipts come back to
        # the node that sent, within seconds, and are matched here without a store read.
        self._recent: OrderedDict[tuple[str, str], PartKey] = OrderedDict()
        self._max_recent = max_recent
        self.parked = 0  # parked by this node and not yet seen matched (for the gauge)
        self._covering: set[str] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def receipts_received(self, connector: str, receipts: Sequence[UpstreamReceipt]) -> None:
        """Correlate and commit (or park durably); returns once that is done, so the connector
        acknowledges only what is safe."""
        recent = self._recent
        found: dict[str, PartKey] = {}
        unknown = []
        for receipt in receipts:
            key = recent.get((connector, receipt.upstream_id))
            if key is None:
                unknown.append(receipt.upstream_id)
            else:
                found[receipt.upstream_id] = key
                if receipt.status.terminal:
                    del recent[(connector, receipt.upstream_id)]
        if unknown:
            found.update(await self._store.find_parts_by_upstream_ids(connector, unknown))
        updates = []
        parked = []
        now = self._clock()
        for receipt in receipts:
            key = found.get(receipt.upstream_id)
            if key is None:
                parked.append(
                    ParkedReceipt(
                        connector,
                        receipt.upstream_id,
                        receipt.status.value,
                        receipt.raw_state,
                        receipt.error_code,
                        now,
                    )
                )
            else:
                updates.extend(self._updates(key, receipt, connector))
        if log.isEnabledFor(logging.DEBUG):
            for receipt in receipts:
                key = found.get(receipt.upstream_id)
                log.debug(
                    "receipt %s",
                    "matched" if key else "parked",
                    extra={
                        "connector": connector,
                        "upstream_id": receipt.upstream_id,
                        "status": receipt.status.value,
                        "message_id": key.message_id if key else None,
                        "from_memory": receipt.upstream_id not in unknown,
                    },
                )
        if parked:
            await self._store.park_receipts(parked)
            self.parked += len(parked)
            self._metrics.receipts.labels(connector=connector, outcome="parked").inc(len(parked))
        self._count_matched(connector, len(receipts) - len(parked), updates)
        await self._status.apply(updates)

    def sent(self, connector: str, upstream_id: str, key: PartKey) -> None:
        """The carrier answered with its id: receipts can be matched from now on, even before
        the submit result is committed (the receipt's update carries the id itself)."""
        recent = self._recent
        recent[(connector, upstream_id)] = key
        if len(recent) > self._max_recent:
            recent.popitem(last=False)

    def ids_recorded(self) -> None:
        """Submit results were committed: if receipts were parked, match now rather than at
        the next periodic re-check."""
        if self.parked:
            self._wake.set()

    def cover_earlier_parts(self, connector: str) -> None:
        """`connector`'s carrier reports a concatenated message by its last part only: a final
        receipt for a part is the verdict for the earlier parts of its message too."""
        self._covering.add(connector)

    async def connector_changed(
        self, name: str, connector: Connector | None, spec: ConnectorSpec | None
    ) -> None:
        """A connector added, replaced or removed at run time (`gateway/connector_set.py`):
        whether its receipts cover earlier parts follows its new options."""
        if connector is not None:
            if getattr(connector, "receipts_for", "all") == "last":
                self._covering.add(name)
            else:
                self._covering.discard(name)
        elif spec is None:
            self._covering.discard(name)

    def _updates(self, key: PartKey, receipt: UpstreamReceipt, connector: str) -> list[PartUpdate]:
        update = self._update(key, receipt, connector)
        if connector not in self._covering or not receipt.status.terminal or key.seq == 0:
            return [update]
        # The earlier parts keep their own upstream ids: only the status is carried over.
        earlier = [
            PartUpdate(
                message_id=key.message_id,
                seq=seq,
                status=update.status,
                at=update.at,
                error_code=update.error_code,
                error_detail=update.error_detail,
            )
            for seq in range(key.seq)
        ]
        return [*earlier, update]

    def _update(self, key: PartKey, receipt: UpstreamReceipt, connector: str) -> PartUpdate:
        return PartUpdate(
            message_id=key.message_id,
            seq=key.seq,
            status=receipt.status,
            at=self._clock(),
            # Carried here too: the receipt may be committed before the submit result.
            upstream_id=receipt.upstream_id,
            connector=connector,
            error_code=receipt.error_code if receipt.status is not Status.DELIVERED else None,
            error_detail=f"stat:{receipt.raw_state}" if receipt.status.terminal else None,
            raw_state=receipt.raw_state or None,
        )

    def _count_matched(self, connector: str, matched: int, updates: Sequence[PartUpdate]) -> None:
        self._metrics.child(self._metrics.receipts, connector, "matched").inc(matched)
        final = Counter(u.status for u in updates if u.status.terminal)
        for status, count in final.items():
            self._metrics.child(self._metrics.parts_final, connector, status).inc(count)

    async def recheck(self) -> None:
        """Match parked receipts whose id is now stored (by any node), then forget them; expire
        those parked longer than the parking time."""
        while True:
            matched = await self._store.match_parked(limit=1000)
            if not matched:
                break
            per_receipt = [
                self._updates(
                    key,
                    UpstreamReceipt(r.upstream_id, Status(r.status), r.raw_state, r.error_code),
                    r.connector,
                )
                for r, key in matched
            ]
            await self._status.apply([u for updates in per_receipt for u in updates])
            # Only after the updates are committed: a crash in between re-applies them, which
            # the lifecycle guard makes harmless.
            await self._store.unpark([(r.connector, r.upstream_id) for r, _ in matched])
            for updates, (r, _) in zip(per_receipt, matched, strict=True):
                self._count_matched(r.connector, 1, updates)
            self.parked = max(self.parked - len(matched), 0)
            if len(matched) < 1000:
                break
        expired = await self._store.expire_parked(older_than=self._clock() - self._park_ttl)
        if expired:
            # Off the count too, like matched ones: else the gauge only ever grows, and every
            # commit of submit results wakes a re-check for receipts long gone.
            self.parked = max(self.parked - expired, 0)
            self._metrics.receipts.labels(connector="*", outcome="expired").inc(expired)
            log.warning("%d receipts for unknown upstream ids expired unmatched", expired)

    async def run(self) -> None:
        while True:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that
            # lands as its timeout fires, and this task would then never end.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._recheck_interval):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.recheck()
            except Exception:
                log.exception("receipt re-check failed")

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="receipt-recheck")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
