"""Inbound (MO) messages: from a carrier's deliver_sm to the account that owns the number.

Each part is committed before the connector acknowledges it to the carrier; a message is
assembled, and its text decoded, only when its last part is committed (parts may arrive in any
order, twice, or on different binds and nodes). A message whose missing parts never come is
delivered as what arrived, flagged incomplete, after `part_timeout`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from gateway.domain import InboundPart, InboundRecord, new_id
from gateway.metrics import Metrics
from gateway.store import Store
from gateway.text import Encoding, decode_body

log = logging.getLogger(__name__)

MO_TTL = 72 * 3600.0  # how long an MO waits for an ESME receiver to bind


def assemble(parts: Sequence[InboundPart], incomplete: bool) -> InboundRecord:
    """Join the parts' bodies in order, then decode: a pair of septets or UTF-16 units that
    the sender cut across two parts decodes whole."""
    first = parts[0]
    ordered = sorted(parts, key=lambda p: p.concat[2] if p.concat else 1)
    body = b"".join(p.body for p in ordered)
    encoding = Encoding(first.encoding)
    text = decode_body(encoding, body, locking=first.national_locking, single=first.national_single)
    return InboundRecord(
        id=new_id(first.received_at),
        account_id=None,  # the store fills in the owner of the destination number
        source=first.source,
        destination=first.destination,
        text=text if text is not None else body.hex(),
        encoding=encoding.value,
        parts=len(parts),
        incomplete=incomplete,
        connector=first.connector,
        received_at=max(p.received_at for p in parts),
    )


class InboundService:
    def __init__(
        self,
        *,
        store: Store,
        metrics: Metrics,
        part_timeout: float = 300.0,
        on_stored: Callable[[InboundRecord], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._part_timeout = part_timeout
        self._on_stored = on_stored
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        # Answers keywords (gateway.keyword_replies); set by the composition root once intake
        # exists. Awaited before the MO is acknowledged to the carrier.
        self.respond: Callable[[InboundRecord], Awaitable[None]] | None = None

    async def parts_received(self, parts: Sequence[InboundPart]) -> None:
        """Commit the parts; returns once they are durable (the connector then acknowledges)."""
        for part in parts:
            record = await self._store.add_inbound_part(part, assemble=assemble, mo_ttl=MO_TTL)
            if record is not None:
                self._stored(record)
                await self._respond(record)

    async def _respond(self, record: InboundRecord) -> None:
        if self.respond is None:
            return
        try:
            await self.respond(record)
        except Exception:
            log.exception("answering an inbound keyword failed")

    def _stored(self, record: InboundRecord) -> None:
        owner = "owned" if record.account_id else "unowned"
        self._metrics.inbound.labels(owner=owner, complete=str(not record.incomplete).lower()).inc()
        if record.account_id is None:
            log.warning(
                "inbound message for a number no account owns",
                extra={"connector": record.connector},
            )
        if self._on_stored is not None:
            self._on_stored(record)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(min(self._part_timeout / 4, 30.0))
            try:
                for record in await self._store.expire_inbound_parts(
                    older_than=self._clock() - self._part_timeout, assemble=assemble, mo_ttl=MO_TTL
                ):
                    self._stored(record)
                    await self._respond(record)
            except Exception:
                log.exception("expiring incomplete inbound messages failed")

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="inbound-expiry")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
