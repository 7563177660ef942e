"""The expiry sweep: no message waits forever.

Every `interval` seconds it marks `expired` the queued parts whose validity ended, including
parts no node would claim soon (waiting for a retry, or for a connector that is down), and the
submitted parts whose receipt has not come within `receipt_timeout` (the carrier lost it, or
never sends one), so no correlation state lives on for them either. Several nodes may sweep at
once: the status writer's lifecycle guard makes the second a no-op, and a receipt that lands
meanwhile wins.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from gateway.domain import PartKey, PartUpdate, Status
from gateway.metrics import Metrics
from gateway.store import Store

log = logging.getLogger(__name__)


class ExpirySweep:
    def __init__(
        self,
        *,
        store: Store,
        apply: Callable[[list[PartUpdate]], Awaitable[None]],
        metrics: Metrics,
        node_id: str,
        interval: float,
        receipt_timeout: float | None,
        batch: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._apply = apply
        self._metrics = metrics
        self._node_id = node_id
        self._interval = interval
        self._receipt_timeout = receipt_timeout
        self._batch = batch
        self._clock = clock

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self._expire_queued()
                await self._expire_unanswered()
            except Exception:
                log.exception("the validity sweep failed")

    async def _expire_queued(self) -> None:
        while True:
            now = self._clock()
            keys = await self._store.claim_expired(
                node_id=self._node_id, limit=self._batch, now=now
            )
            if not keys:
                return
            self._metrics.parts_expired.inc(len(keys))
            await self._apply(
                [
                    PartUpdate(k.message_id, k.seq, Status.EXPIRED, now, error_code="expired")
                    for k in keys
                ]
            )
            if len(keys) < self._batch:
                return

    async def _expire_unanswered(self) -> None:
        if self._receipt_timeout is None:
            return
        now = self._clock()
        detail = f"no delivery receipt within {self._receipt_timeout:g} s of the submit"
        after: PartKey | None = None
        while True:
            keys = await self._store.stuck_parts(
                status=Status.SUBMITTED,
                before=now - self._receipt_timeout,
                now=now,
                connector=None,
                after=after,
                limit=self._batch,
            )
            if not keys:
                return
            self._metrics.parts_expired.inc(len(keys))
            await self._apply(
                [
                    PartUpdate(
                        k.message_id,
                        k.seq,
                        Status.EXPIRED,
                        now,
                        error_code="expired",
                        error_detail=detail,
                    )
                    for k in keys
                ]
            )
            if len(keys) < self._batch:
                return
            after = keys[-1]
