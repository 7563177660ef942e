"""Gauges that need the store, set when Prometheus scrapes `/metrics`.

The synchronous refreshers of `Metrics.before_render` read in-memory state; these take a
round trip each: a store ping through readiness, and one GROUP BY over the queued parts, served
by the partial index on them. Queue gauges describe the shared store, so every node reports the
same figures: aggregate them with `max by (connector, lane)`, not `sum`.

The queue query grows with the queue: on SQLite it takes seconds at a million queued parts,
exactly when the queue alerts matter. So a scrape waits for it only briefly; a query still
running then finishes in the background and the next scrape publishes it, and the figures of a
slow query are reused until ten times its duration has passed, so measuring never takes more
than a tenth of the store's time. `gateway_store_queue_figures_age_seconds` says how old the
published figures are. A query that fails clears them: an absent series is what alerts expect
when the store is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from gateway.metrics import Metrics
from gateway.store import Store
from gateway.store.operations_sql import QueueLane

log = logging.getLogger(__name__)

Readiness = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]


class ScrapeGauges:
    def __init__(
        self,
        *,
        metrics: Metrics,
        store: Store,
        readiness: Readiness,
        wait: float = 2.0,
        max_share: float = 0.1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._metrics = metrics
        self._store = store
        self._readiness = readiness
        self._wait = wait  # how long a scrape waits for a queue query
        self._max_share = max_share  # of the store's time spent measuring the queue, at most
        self._clock = clock
        self._lanes: Sequence[QueueLane] | None = None
        self._measured_at = 0.0  # when the published figures were taken
        self._took = 0.0  # how long the query that took them ran
        self._query: asyncio.Task[None] | None = None

    async def refresh(self) -> None:
        ready, _ = await self._readiness()
        self._metrics.ready.set(1 if ready else 0)
        now = self._clock()
        stale = self._lanes is None or now - self._measured_at >= self._took / self._max_share
        if stale and self._query is None:
            self._query = asyncio.create_task(self._measure(now), name="queue-gauges")
        if self._query is not None:
            # Shielded: a scrape that stops waiting leaves the query running for the next one.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._wait):
                    await asyncio.shield(self._query)
        self._publish(self._clock())

    async def _measure(self, now: float) -> None:
        started = time.monotonic()
        try:
            lanes = await self._store.queue_lanes(now=now)
        except Exception as exc:
            log.warning("queue gauges not refreshed: %s", type(exc).__name__)
            self._lanes = None
        else:
            self._lanes, self._measured_at = lanes, now
            self._took = time.monotonic() - started
        finally:
            self._query = None

    def _publish(self, now: float) -> None:
        m = self._metrics
        # Cleared first so a lane that emptied since the last scrape stops being reported.
        m.store_queued.clear()
        m.store_queue_age.clear()
        if self._lanes is None:
            m.store_queue_figures_age.set(float("nan"))
            return
        m.store_queue_figures_age.set(max(0.0, now - self._measured_at))
        for lane in self._lanes:
            m.store_queued.labels(connector=lane.connector, lane=lane.lane).set(lane.queued)
            # The oldest part keeps waiting after it was measured: its age is taken now.
            age = 0.0 if lane.oldest_due_at is None else max(0.0, now - lane.oldest_due_at)
            m.store_queue_age.labels(connector=lane.connector, lane=lane.lane).set(age)

    async def close(self) -> None:
        if self._query is not None:
            self._query.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._query
