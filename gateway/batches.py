"""Batches: one request, one text or template, up to 10,000 recipients.

Every recipient is prepared on its own (template, number, encoding, route, price) and a bad one
becomes that recipient's error while the others go on. The messages that passed are committed
in one unit with the batch row (and the request's idempotency record) through intake's group
commit: one transaction, however many recipients, acknowledged only once it is durable.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from gateway.domain import ClientError, MessageType, NewMessage, new_id
from gateway.domain.batches import NewBatch
from gateway.domain.errors import InvalidSchedule, InvalidSender
from gateway.intake import Intake, Submission
from gateway.routing import price_for
from gateway.templates import parse_template
from gateway.text import Encoding

# Preparing a recipient is CPU work (number validation, encoding): let other requests in now
# and then rather than hold the event loop for a whole batch.
_YIELD_EVERY = 250


@dataclass(frozen=True, slots=True)
class Recipient:
    to: str
    variables: Mapping[str, str]
    client_ref: str | None = None


@dataclass(frozen=True, slots=True)
class Refused:
    to: str | None
    error: ClientError


@dataclass(frozen=True, slots=True)
class BatchRequest:
    account_id: str
    sender: str
    text: str  # a template: `{{name}}` placeholders (gateway.templates)
    message_type: MessageType
    # In request order; a Refused one was refused before it got here (by its shape).
    recipients: Sequence[Recipient | Refused]
    client_ref: str | None = None
    encoding: Encoding | None = None
    transliterate: bool = False
    send_at: float | None = None
    validity: float | None = None


@dataclass(frozen=True, slots=True)
class Accepted:
    to: str
    message: NewMessage
    segments: int
    price: float | None


@dataclass(frozen=True, slots=True)
class BatchPlan:
    batch: NewBatch
    results: list[Accepted | Refused]

    @property
    def messages(self) -> list[NewMessage]:
        return [r.message for r in self.results if isinstance(r, Accepted)]


class Batches:
    def __init__(self, *, intake: Intake, clock: Callable[[], float]) -> None:
        self._intake = intake
        self._clock = clock

    async def prepare(self, request: BatchRequest) -> BatchPlan:
        """Prepare every recipient and apply the account's policies (opt-out, quiet hours:
        cached, rarely a store read). Raises only for what is wrong with the whole
        request (`template.invalid`, a sender or schedule that no recipient could use)."""
        template = parse_template(request.text)
        batch_id = new_id()
        results: list[Accepted | Refused] = []
        try:
            await self._prepare_all(request, template.render, batch_id, results)
        except BaseException:
            # A refusal of the whole request: give back what was admitted for its recipients.
            self._intake.release([r.message for r in results if isinstance(r, Accepted)])
            raise
        accepted = sum(isinstance(r, Accepted) for r in results)
        batch = NewBatch(
            id=batch_id,
            account_id=request.account_id,
            created_at=self._clock(),
            recipients=len(results),
            accepted=accepted,
            rejected=len(results) - accepted,
            message_type=request.message_type.value,
            source=request.sender.strip(),
            client_ref=request.client_ref,
        )
        return BatchPlan(batch, results)

    async def _prepare_all(
        self,
        request: BatchRequest,
        render: Callable[[Mapping[str, str]], str],
        batch_id: str,
        results: list[Accepted | Refused],
    ) -> None:
        for index, recipient in enumerate(request.recipients):
            if index and index % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
            if isinstance(recipient, Refused):
                results.append(recipient)
                continue
            try:
                message, segments = self._prepare_one(request, render, recipient)
                message = await self._intake.admit(message, rate_limited=False)
            except (InvalidSender, InvalidSchedule):
                raise  # the same for every recipient: the request's fault
            except ClientError as exc:
                results.append(Refused(recipient.to, exc))
                continue
            message = dataclasses.replace(message, batch_id=batch_id)
            results.append(
                Accepted(message.destination, message, segments, price_for(message.price, segments))
            )

    def _prepare_one(
        self,
        request: BatchRequest,
        render: Callable[[Mapping[str, str]], str],
        recipient: Recipient,
    ) -> tuple[NewMessage, int]:
        message, encoded = self._intake.prepare(
            Submission(
                account_id=request.account_id,
                to=recipient.to,
                sender=request.sender,
                text=render(recipient.variables),
                message_type=request.message_type,
                client_ref=recipient.client_ref or request.client_ref,
                encoding=request.encoding,
                transliterate=request.transliterate,
                send_at=request.send_at,
                validity=request.validity,
            )
        )
        return message, len(encoded.segments)
