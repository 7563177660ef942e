"""Gauges that need the store, set when Prometheus scrapes `/metrics`.

The synchronous refreshers of `Metrics.before_render` read in-memory state; these take a
round trip each (a store ping through readiness, one GROUP BY over the queued parts, served by
the partial index on them), so a scrape every few seconds costs two small queries per node.
Queue gauges describe the shared store, so every node reports the same figures: aggregate them
with `max by (connector, lane)`, not `sum`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from gateway.metrics import Metrics
from gateway.store import Store

log = logging.getLogger(__name__)

Readiness = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]
_STORE_TIMEOUT = 2.0


async def refresh_scrape_gauges(*, metrics: Metrics, store: Store, readiness: Readiness) -> None:
    ready, _ = await readiness()
    metrics.ready.set(1 if ready else 0)
    try:
        now = time.time()
        async with asyncio.timeout(_STORE_TIMEOUT):
            lanes = await store.queue_lanes(now=now)
    except Exception as exc:
        # Stale figures would hide the outage; an absent series is what alerts expect then.
        log.warning("queue gauges not refreshed: %s", type(exc).__name__)
        metrics.store_queued.clear()
        metrics.store_queue_age.clear()
        return
    # Cleared first so a lane that emptied since the last scrape stops being reported.
    metrics.store_queued.clear()
    metrics.store_queue_age.clear()
    for lane in lanes:
        metrics.store_queued.labels(connector=lane.connector, lane=lane.lane).set(lane.queued)
        age = 0.0 if lane.oldest_due_at is None else max(0.0, now - lane.oldest_due_at)
        metrics.store_queue_age.labels(connector=lane.connector, lane=lane.lane).set(age)
