"""Delivery-receipt correlation: from the carrier's id back to our part.

A receipt names the carrier's message id. Usually the submit response that told us that id is
already committed and one indexed lookup finds the part. A fast carrier may send the receipt
first (or to another node): such a receipt is parked and matched as soon as the id is stored,
either when this node records the submit response or by the periodic re-check, which also finds
ids stored by other nodes. Parking is bounded in size and time; what expires unmatched is
counted, never silently dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from gateway.connector import UpstreamReceipt
from gateway.domain import PartKey, PartUpdate, Status
from gateway.metrics import Metrics
from gateway.status import StatusWriter
from gateway.store import Store

log = logging.getLogger(__name__)


class ReceiptCorrelator:
    def __init__(
        self,
        *,
        store: Store,
        status: StatusWriter,
        metrics: Metrics,
        park_ttl: float = 900.0,
        max_parked: int = 100_000,
        max_recent: int = 200_000,
        recheck_interval: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._status = status
        self._metrics = metrics
        self._park_ttl = park_ttl
        self._max_parked = max_parked
        self._recheck_interval = recheck_interval
        self._clock = clock
        # (connector, upstream id) -> (receipt, parked at); oldest first.
        self._parked: OrderedDict[tuple[str, str], tuple[UpstreamReceipt, float]] = OrderedDict()
        # Parts this node sent recently, by (connector, upstream id): most receipts come back to
        # the node that sent, within seconds, and are matched here without a store read.
        self._recent: OrderedDict[tuple[str, str], PartKey] = OrderedDict()
        self._max_recent = max_recent
        self._task: asyncio.Task[None] | None = None

    @property
    def parked(self) -> int:
        return len(self._parked)

    async def receipts_received(self, connector: str, receipts: Sequence[UpstreamReceipt]) -> None:
        """Correlate and commit; returns after the resulting updates are durable."""
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
        for receipt in receipts:
            key = found.get(receipt.upstream_id)
            if key is None:
                self._park(connector, receipt)
            else:
                updates.append(self._update(key, receipt, connector))
        self._metrics.receipts.labels(connector=connector, outcome="matched").inc(len(updates))
        for update in updates:
            if update.status.terminal:
                self._metrics.parts_final.labels(connector=connector, status=update.status).inc()
        await self._status.apply(updates)

    def sent(self, connector: str, upstream_id: str, key: PartKey) -> None:
        """The carrier answered with its id: receipts can be matched from now on, even before
        the submit result is committed (the receipt's update carries the id itself)."""
        recent = self._recent
        recent[(connector, upstream_id)] = key
        if len(recent) > self._max_recent:
            recent.popitem(last=False)

    async def submitted(self, connector: str, matched: Sequence[tuple[str, PartKey]]) -> None:
        """Called after submit responses are committed: remember them, and release receipts
        that came early."""
        recent = self._recent
        for upstream_id, key in matched:
            recent[(connector, upstream_id)] = key
        while len(recent) > self._max_recent:
            recent.popitem(last=False)
        if not self._parked:
            return
        updates = []
        released = []
        for upstream_id, key in matched:
            entry = self._parked.get((connector, upstream_id))
            if entry is not None:
                updates.append(self._update(key, entry[0], connector))
                released.append((connector, upstream_id))
        if updates:
            await self._status.apply(updates)
            # Only now: a failed write leaves them parked for the next re-check.
            for entry_key in released:
                self._parked.pop(entry_key, None)
            self._metrics.receipts.labels(connector=connector, outcome="matched").inc(len(updates))

    def _park(self, connector: str, receipt: UpstreamReceipt) -> None:
        if len(self._parked) >= self._max_parked:
            (old_connector, _), _ = self._parked.popitem(last=False)
            self._metrics.receipts.labels(connector=old_connector, outcome="evicted").inc()
            log.warning("receipt parking full; oldest unmatched receipt evicted")
        self._parked[(connector, receipt.upstream_id)] = (receipt, self._clock())
        self._metrics.receipts.labels(connector=connector, outcome="parked").inc()

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
        )

    async def recheck(self) -> None:
        """Look the parked ids up again (ids stored since, by this node or another) and expire
        what has waited longer than the parking time."""
        now = self._clock()
        by_connector: dict[str, list[str]] = {}
        for (connector, upstream_id), (_, parked_at) in list(self._parked.items()):
            if now - parked_at > self._park_ttl:
                del self._parked[(connector, upstream_id)]
                self._metrics.receipts.labels(connector=connector, outcome="expired").inc()
                log.warning("receipt for an unknown upstream id expired unmatched")
            else:
                by_connector.setdefault(connector, []).append(upstream_id)
        for connector, ids in by_connector.items():
            found = await self._store.find_parts_by_upstream_ids(connector, ids)
            await self.submitted(connector, list(found.items()))

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._recheck_interval)
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
