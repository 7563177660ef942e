"""The feeder: keeps a node's dispatch lanes supplied from the store, which is the queue.

Intake hands freshly committed parts straight to the lanes when there is room; the feeder claims
the rest as room frees: parts that did not fit, scheduled parts that came due, retries, and parts
left by a node that died. It also keeps this node's heartbeat, and takes back the parts of nodes
whose heartbeat went stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence

from gateway.domain import PartRecord
from gateway.lanes import LANE_PATIENCE, LANES
from gateway.store import Store

log = logging.getLogger(__name__)


class Feeder:
    def __init__(
        self,
        *,
        store: Store,
        node_id: str,
        room: Callable[[], int],
        push: Callable[[Sequence[PartRecord]], None],
        batch: int,
        heartbeat_interval: float,
        heartbeat_ttl: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._node_id = node_id
        self._room = room  # parts the lanes can take now (0 or less: none, or stopping)
        self._push = push
        self._batch = batch
        self._heartbeat_interval = heartbeat_interval
        self._heartbeat_ttl = heartbeat_ttl
        self._clock = clock
        self._freed = asyncio.Event()
        self._owed = [0.0] * LANES  # parts of each lane owed from the store (`claim`)

    def wake(self) -> None:
        """Room freed, or parts came back to the store: look now, not at the next poll."""
        self._freed.set()

    async def feed(self) -> None:
        while True:
            room = self._room()
            more = False
            if room > 0:
                try:
                    more = await self.claim(min(room, self._batch))
                except Exception:
                    log.exception("claiming parts from the store failed")
            if more:
                continue  # more may be waiting
            self._freed.clear()
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that
            # lands as its timeout fires, and this task would then never end.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.5):
                    await self._freed.wait()
            # Let a burst of completions accumulate into one claim rather than many small ones.
            await asyncio.sleep(0.01)

    async def claim(self, limit: int) -> bool:
        """Claim up to `limit` due parts, highest priority first; returns whether more may be
        waiting. Claimed strictly by priority, a backlog of OTP larger than the lanes' capacity
        would keep every promotional part in the store, where no lane can serve it; so while a
        backlog lasts, each lower lane is owed the share of the claims that `LANE_PATIENCE`
        gives it in turns, and takes it first at the next claim (fractions carry over, so
        claims of one or two parts at a time add up too)."""
        for priority in range(1, LANES):
            owed = min(int(self._owed[priority]), limit)
            if not owed:
                continue
            lane = await self._store.claim_parts(
                node_id=self._node_id, limit=owed, now=self._clock(), priority=priority
            )
            self._push(lane)
            limit -= len(lane)
            # What the lane did not have is not owed any more: it has nothing waiting.
            self._owed[priority] = self._owed[priority] - owed if len(lane) == owed else 0.0
        if limit <= 0:
            return True
        parts = await self._store.claim_parts(node_id=self._node_id, limit=limit, now=self._clock())
        self._push(parts)
        if len(parts) < limit:
            self._owed = [0.0] * LANES  # every due part is claimed: no lane is left behind
            return False
        for priority in range(1, LANES):
            self._owed[priority] += len(parts) / (LANE_PATIENCE[priority] + 1)
        return True

    async def keep_alive(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_interval)
            try:
                now = self._clock()
                await self._store.heartbeat(node_id=self._node_id, now=now)
                released = await self._store.release_stale(now=now, ttl=self._heartbeat_ttl)
                if released:
                    log.warning("took back %d parts from nodes that stopped heartbeating", released)
                    self._freed.set()
            except Exception:
                log.exception("node heartbeat failed")
