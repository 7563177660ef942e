"""Idempotency-Key: a retried request gets the first response back and sends nothing again.

A request with a key runs at most once per account and key for 24 hours:

- the first response that was accepted is stored with a fingerprint of the request, written
  by the store in the transaction that commits the request's messages, so a crash leaves both
  or neither (never a sent message without its key, nor a key without its messages);
- a retry with the same key and the same request gets that status and body back, byte for
  byte (`Idempotent-Replayed: true`); with another request, `idempotency.key_mismatch`;
- while the first is still being processed on this node, a second gets
  `idempotency.in_progress` (409). On another node the second waits on the first's key at
  commit, then gets the first's response: of two, exactly one writes its messages;
- a refused request (bad input, back-pressure) stores nothing: nothing was sent, so a retry is
  simply evaluated again;
- records expire after `ttl` and are deleted by a periodic sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gateway.domain.batches import IdempotencyRecord
from gateway.domain.errors import IdempotencyInProgress, IdempotencyKeyMismatch
from gateway.store import Store

log = logging.getLogger(__name__)

KEY_TTL = 86_400.0
MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class Reply:
    status_code: int
    body: bytes  # JSON
    replayed: bool = False


# Builds the record to commit with the messages, from the response that will be sent.
Stamp = Callable[[int, bytes], IdempotencyRecord]
# Prepares and commits a request, its record stamped in when there is a key; returns its reply,
# or None when another request with the key committed first (nothing of this one was written).
Submit = Callable[[Stamp | None], Awaitable[Reply | None]]


def fingerprint(path: str, payload: object) -> str:
    """SHA-256 of the path and the request's JSON in canonical form: key order and spacing
    do not make two equal requests different."""
    canonical = json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(f"{path}\n{canonical}".encode()).hexdigest()


class Idempotency:
    def __init__(
        self,
        *,
        store: Store,
        ttl: float = KEY_TTL,
        sweep_interval: float = 600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._ttl = ttl
        self._sweep_interval = sweep_interval
        self._clock = clock
        self._in_flight: set[tuple[str, str]] = set()  # (account, key) being processed here
        self._task: asyncio.Task[None] | None = None

    async def run(
        self,
        *,
        account_id: str,
        key: str | None,
        fingerprint: str | Callable[[], str],
        submit: Submit,
    ) -> Reply:
        """Run `submit` once per (account, key); without a key, simply run it. `fingerprint`
        may be a function: it is then computed only for a request that carries a key."""
        if key is None:
            reply = await submit(None)
            assert reply is not None, "a request without a key is never a duplicate"
            return reply
        request = fingerprint() if callable(fingerprint) else fingerprint
        slot = (account_id, key)
        if slot in self._in_flight:
            raise IdempotencyInProgress(
                "a request with this Idempotency-Key is still being processed; retry shortly"
            )
        self._in_flight.add(slot)
        try:
            stored = await self._replay(account_id, key, request)
            if stored is not None:
                return stored
            now = self._clock()

            def stamp(status_code: int, body: bytes) -> IdempotencyRecord:
                return IdempotencyRecord(
                    account_id, key, request, status_code, body, now, now + self._ttl
                )

            reply = await submit(stamp)
            if reply is not None:
                return reply
            # Another node committed a request with this key while we prepared ours.
            stored = await self._replay(account_id, key, request)
            if stored is None:  # it expired in between: vanishingly rare, and safe to retry
                raise IdempotencyInProgress("the Idempotency-Key changed hands; retry")
            return stored
        finally:
            self._in_flight.discard(slot)

    async def _replay(self, account_id: str, key: str, fingerprint: str) -> Reply | None:
        record = await self._store.get_idempotency(
            account_id=account_id, key=key, now=self._clock()
        )
        if record is None:
            return None
        if record.fingerprint != fingerprint:
            raise IdempotencyKeyMismatch(
                "this Idempotency-Key was used for a different request in the last 24 hours"
            )
        return Reply(record.status_code, record.body, replayed=True)

    # -- expiry -----------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._sweep(), name="idempotency-sweep")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def sweep_once(self) -> int:
        return await self._store.expire_idempotency(now=self._clock())

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_interval)
            try:
                removed = await self.sweep_once()
            except Exception:  # the store is down: try again next time
                log.warning("idempotency key sweep failed", exc_info=True)
                continue
            if removed:
                log.debug("expired %d idempotency keys", removed)
