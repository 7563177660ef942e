"""Webhook delivery: drains the webhook outbox, one account's stream at a time, in order.

Events are written to `webhook_events` in the transaction of the status change or inbound
message they report, numbered per account. A node leases an account's stream (the `webhooks`
row: one lease per account, taken with SKIP LOCKED on PostgreSQL, so several nodes share the
accounts and never send one stream twice at once), POSTs its pending events in sequence order,
and stops at the first that is not acknowledged with a 2xx: a later event never overtakes an
earlier one. The stream is then retried with exponential backoff and jitter; an event still
unacknowledged after `max_age` (72 hours by default) is marked failed and the stream goes on.
At-least-once: a receiver may see an event twice (deduplicate on `id`), never out of order.

Bounded: at most `concurrency` streams in flight per node, at most `batch` events of each in
memory, and each response body is never read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable

import httpx

from gateway.domain.errors import WebhookUrlNotAllowed
from gateway.domain.webhooks import (
    SIGNATURE_HEADER,
    WebhookEvent,
    WebhookFailure,
    WebhookStream,
    sign,
)
from gateway.metrics import Metrics
from gateway.store import Store
from gateway.webhook_targets import CheckedTransport, Resolver, check_target, resolve

log = logging.getLogger(__name__)

MAX_AGE = 72 * 3600.0


class WebhookDelivery:
    def __init__(
        self,
        *,
        store: Store,
        node_id: str,
        metrics: Metrics,
        allow_private: bool = False,
        concurrency: int = 32,
        batch: int = 100,
        lease: float = 60.0,
        timeout: float = 10.0,
        max_age: float = MAX_AGE,
        retention: float = 7 * 86400.0,
        retry_base: float = 1.0,
        retry_cap: float = 600.0,
        poll_interval: float = 1.0,
        clock: Callable[[], float] = time.time,
        resolver: Resolver = resolve,
    ) -> None:
        self._store = store
        self._node_id = node_id
        self.metrics = metrics
        self._allow_private = allow_private
        self._concurrency = concurrency
        self._batch = batch
        self._lease = lease
        self._timeout = timeout
        self._max_age = max_age
        self._retention = retention
        self._retry_base = retry_base
        self._retry_cap = retry_cap
        self._poll = poll_interval
        self._clock = clock
        self._resolver = resolver
        self._wake = asyncio.Event()
        self._active: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    def wake(self) -> None:
        """Events were committed or replayed: look at the outbox now, not at the next poll."""
        self._wake.set()

    def start(self) -> None:
        # No redirects: a 3xx is not an acknowledgement, and following one could lead past
        # the address check.
        # The transport checks the address at every connect (DNS rebinding), not only here.
        self._client = httpx.AsyncClient(
            transport=CheckedTransport(
                allow_private=self._allow_private,
                limits=httpx.Limits(max_connections=self._concurrency),
                resolver=self._resolver,
            ),
            timeout=self._timeout,
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": "smsgw-webhooks"},
        )
        self._task = asyncio.create_task(self.run(), name="webhook-delivery")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._active):
            task.cancel()
        await asyncio.gather(*self._active, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._store.release_webhook_streams(node_id=self._node_id)
        if self._client is not None:
            await self._client.aclose()

    async def run(self) -> None:
        # Leases this node id held before a restart are ours to use now, not when they expire.
        with contextlib.suppress(Exception):
            await self._store.release_webhook_streams(node_id=self._node_id)
        last_gauge = last_purge = 0.0
        while True:
            self._wake.clear()
            try:
                now = self._clock()
                room = self._concurrency - len(self._active)
                if room > 0:
                    streams = await self._store.claim_webhook_streams(
                        node_id=self._node_id, limit=room, now=now, lease=self._lease
                    )
                    for stream in streams:
                        task = asyncio.create_task(self._send_stream(stream))
                        self._active.add(task)
                        task.add_done_callback(self._active.discard)
                if now - last_gauge >= 5:
                    last_gauge = now
                    pending = await self._store.count_pending_webhook_events()
                    self.metrics.webhook_outbox_pending.set(pending)
                if now - last_purge >= 60:
                    last_purge = now
                    await self._store.purge_webhook_events(
                        older_than=now - self._retention, limit=10_000
                    )
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook delivery failed; retrying")
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that
            # lands as its timeout fires, and this task would then never end.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll):
                    await self._wake.wait()

    async def _send_stream(self, stream: WebhookStream) -> None:
        started = self._clock()
        delivered: list[int] = []
        failure: WebhookFailure | None = None
        try:
            events = await self._store.pending_webhook_events(
                account_id=stream.account_id, limit=self._batch
            )
            # Checked once per batch, not per event: a name is resolved once, not 100 times.
            refused = await self._refused(stream.url)
            for event in events:
                # Hand the stream back well before the lease runs out, so no other node
                # starts sending it while this one still is.
                if self._clock() - started > self._lease / 2:
                    break
                error = refused or await self._post(stream, event)
                if error is None:
                    delivered.append(event.id)
                    self.metrics.webhook_deliveries.labels(outcome="delivered").inc()
                    continue
                failure = self._failure(stream, event, error)
                outcome = "failed" if failure.give_up else "retry"
                self.metrics.webhook_deliveries.labels(outcome=outcome).inc()
                if failure.give_up:
                    log.warning(
                        "webhook event %s (sequence %d) given up after %d attempts: %s",
                        event.event_id,
                        event.sequence,
                        event.attempts + 1,
                        error,
                    )
                break
            await self._store.finish_webhook_stream(
                stream=stream,
                node_id=self._node_id,
                delivered=delivered,
                failure=failure,
                now=self._clock(),
                max_age=self._max_age,
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            # The lease runs out and the stream is taken again; what was delivered but not
            # recorded is sent again (at-least-once).
            log.exception("webhook stream of an account failed")
            return
        if delivered or (failure is not None and failure.give_up):
            self._wake.set()  # there may be more behind these

    async def _post(self, stream: WebhookStream, event: WebhookEvent) -> str | None:
        """None when acknowledged (2xx), else what went wrong."""
        assert self._client is not None, "not started"
        if event.attempts:
            self.metrics.webhook_retries.inc()
        body = event.body.encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(stream.secret, int(self._clock()), body),
            "Gateway-Event-Id": event.event_id,
            "Gateway-Event-Sequence": str(event.sequence),
        }
        try:
            async with self._client.stream(
                "POST", stream.url, content=body, headers=headers
            ) as response:
                status = response.status_code
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"[:200]
        return None if 200 <= status < 300 else f"HTTP {status}"

    async def _refused(self, url: str) -> str | None:
        """Why `url` may not be posted to now (its name may resolve elsewhere than when the
        webhook was set), or None."""
        try:
            await check_target(url, allow_private=self._allow_private, resolver=self._resolver)
        except WebhookUrlNotAllowed as exc:
            return exc.detail
        return None

    def _failure(self, stream: WebhookStream, event: WebhookEvent, error: str) -> WebhookFailure:
        now = self._clock()
        delay = min(self._retry_cap, self._retry_base * 2 ** min(stream.failures, 30))
        # Full jitter over the upper half: receivers coming back from an outage are not hit by
        # every account at the same instant.
        retry_at = now + random.uniform(delay / 2, delay)
        give_up = now - event.created_at >= self._max_age
        return WebhookFailure(
            row_id=event.id, error=error, retry_at=now if give_up else retry_at, give_up=give_up
        )
