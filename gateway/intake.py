"""Intake: validate a submission, encode and segment it, and commit it before answering.

Concurrent submissions are committed together (`GroupCommit`): one transaction and one fsync
for every request that arrived while the previous commit was in progress. `submit` returns only
after the commit, so a 202 or a submit_sm_resp always means "durable". Parts that fit in this
node's dispatch memory are committed as owned by this node and handed over directly, with no
second trip to the store; the rest wait in the store for the dispatch feeder.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from gateway.account_policy import AccountPolicy, Admitted
from gateway.dispatch import Dispatcher
from gateway.domain import MessageType, NewMessage, NewPart, PartRecord, new_id
from gateway.domain.batches import IdempotencyRecord, NewBatch, SubmissionUnit
from gateway.domain.errors import (
    EmptyText,
    InvalidSchedule,
    InvalidSender,
    QueueFull,
    ShuttingDown,
    TextTooLong,
)
from gateway.domain.errors import UnencodableText as UnencodableTextError
from gateway.groupcommit import GroupCommit
from gateway.metrics import Metrics
from gateway.phone import normalize_e164
from gateway.routing import Route, Router, price_for
from gateway.slots import slot_init
from gateway.store import Store
from gateway.suppression import OptOutPolicies
from gateway.text import (
    DEFAULT_NATIONAL,
    Concatenation,
    ConcatReferenceAllocator,
    EncodedText,
    Encoding,
    UnencodableText,
    concat_udh,
    encode_text,
)

# 3GPP TS 23.040 §9.1.2.5: an alphanumeric originator is at most 11 GSM characters;
# a numeric one at most 15 digits (ITU-T E.164).
_ALPHANUMERIC_SENDER = re.compile(r"^[A-Za-z0-9 .\-_&]{1,11}$")
_NUMERIC_SENDER = re.compile(r"^\+?[0-9]{1,15}$")


@slot_init
@dataclass(frozen=True, slots=True)
class Submission:
    account_id: str
    to: str
    sender: str
    text: str
    message_type: MessageType = MessageType.TRANSACTIONAL
    client_ref: str | None = None
    registered_delivery: bool = True
    encoding: Encoding | None = None  # None: the cheapest that carries the text exactly
    transliterate: bool = False
    send_at: float | None = None  # epoch seconds; None: now
    validity: float | None = None  # seconds from send_at (or now) until it expires unsent


MAX_SCHEDULE_AHEAD = 35 * 86_400.0
MIN_VALIDITY, MAX_VALIDITY = 10.0, 7 * 86_400.0


class Intake:
    def __init__(
        self,
        *,
        store: Store,
        dispatcher: Dispatcher,
        router: Router,
        metrics: Metrics,
        node_id: str,
        max_batch: int = 1000,
        max_segments: int = 20,
        max_pending: int = 20_000,
        concatenation: Mapping[str, Concatenation] | None = None,
        clock: Callable[[], float] = time.time,
        optout: OptOutPolicies | None = None,
        policy: AccountPolicy | None = None,
    ) -> None:
        self._policy = policy  # per-account limits and sender rules; None: none apply
        self._store = store
        self._optout = optout
        # Admitted, commit not settled yet, by `_admission_key`.
        self._admitted: dict[tuple[str, int], Admitted] = {}
        self._dispatcher = dispatcher
        self._router = router
        self._metrics = metrics
        self._node_id = node_id
        self._max_segments = max_segments
        self._max_pending = max_pending
        # Read per message: a live view when connectors change at run time.
        self._concatenation = concatenation if concatenation is not None else {}
        self._clock = clock
        self._references = ConcatReferenceAllocator()
        self._closing = False
        # One unit per request (a batch is one unit of many messages), weighed in messages.
        self._commit: GroupCommit[SubmissionUnit, bool] = GroupCommit(
            self._write, max_batch=max_batch, weight=lambda unit: len(unit.messages)
        )

    def encode(self, submission: Submission) -> tuple[str, str, EncodedText]:
        """Validate and encode: (E.164 destination, sender, encoded text). No side effects, so
        the preview endpoint answers exactly what a submit would do."""
        destination = normalize_e164(submission.to)
        sender = validate_sender(submission.sender)
        if not submission.text:
            raise EmptyText("text must not be empty")
        if self._policy is not None:
            self._policy.check_sender(submission.account_id, sender, destination)
        method = self._method(submission.account_id, destination, submission.message_type, sender)
        try:
            encoded = encode_text(
                submission.text,
                encoding=submission.encoding,
                transliterate=submission.transliterate,
                ref16=method is Concatenation.UDH16,
                # One PDU with message_payload has no UDH to announce a national table.
                national_languages=() if method is Concatenation.PAYLOAD else DEFAULT_NATIONAL,
            )
        except UnencodableText as exc:  # only when an encoding is pinned
            raise UnencodableTextError(
                f"{exc.encoding.value} cannot carry "
                + ", ".join(f"{c!r} (U+{ord(c):04X})" for c in exc.characters),
                characters=list(exc.characters),
            ) from None
        total = len(encoded.segments)
        if total > self._max_segments:
            raise TextTooLong(
                f"text needs {total} segments; at most {self._max_segments} are allowed"
            )
        return destination, sender, encoded

    @property
    def max_segments(self) -> int:
        """The most segments one message may take (REST text, SMPP message_payload)."""
        return self._max_segments

    def prepare(self, submission: Submission) -> tuple[NewMessage, EncodedText]:
        """Validate, encode and segment; raise a `ClientError` for bad input. No I/O."""
        destination, sender, encoded = self.encode(submission)
        total = len(encoded.segments)
        route = self._router.route(
            account_id=submission.account_id,
            destination=destination,
            message_type=submission.message_type.value,
            source=sender,
        )
        method = self._concatenation.get(route.connectors[0], Concatenation.UDH8)
        billed: int | None = None
        if method is Concatenation.PAYLOAD and total > 1:
            # The connector sends the whole text in one PDU: one part, billed as its segments.
            billed = total
            body = b"".join(segment.payload for segment in encoded.segments)
            parts: tuple[NewPart, ...] = (
                NewPart(0, encoded.encoding.value, encoded.data_coding, b"", body),
            )
        else:
            reference = self.concat_reference(destination) if total > 1 else 0
            parts = tuple(
                NewPart(
                    seq=i,
                    encoding=encoded.encoding.value,
                    data_coding=encoded.data_coding,
                    udh=concat_udh(
                        reference,
                        total,
                        i + 1,
                        ref16=method is Concatenation.UDH16,
                        national=encoded.national,
                        locking=encoded.locking_shift,
                        single=encoded.single_shift,
                    ),
                    payload=segment.payload,
                )
                for i, segment in enumerate(encoded.segments)
            )
        now = self._clock()
        send_at, expires_at = _schedule(submission, now)
        message = NewMessage(
            id=new_id(),
            account_id=submission.account_id,
            source=sender,
            destination=destination,
            body=encoded.text,
            encoding=encoded.encoding.value,
            message_type=submission.message_type,
            connector=route.connectors[0],
            parts=parts,
            created_at=now,
            send_at=send_at,
            expires_at=expires_at,
            client_ref=submission.client_ref,
            registered_delivery=submission.registered_delivery,
            billed_segments=billed,
            price=route.price,
        )
        return message, encoded

    async def submit(
        self, submission: Submission, *, policy_exempt: bool = False
    ) -> tuple[NewMessage, EncodedText]:
        """Prepare and commit; return once the message is durable. The account's opt-out list,
        quiet hours and limits apply unless `policy_exempt` (the reply to a STOP must go, even
        from an account over its quota); it is still priced as the account's."""
        message, encoded = self.prepare(submission)
        if not policy_exempt:
            message = await self.admit(message)
        elif self._policy is not None:
            admitted = await self._policy.admit_exempt(message)
            self._admitted[_admission_key(admitted.message)] = admitted  # settled by the commit
            message = admitted.message
        await self.submit_many([message])
        return message, encoded

    async def admit(self, message: NewMessage, *, rate_limited: bool = True) -> NewMessage:
        """The account's policies for a prepared message: its opt-out list (raises
        `RecipientOptedOut`) and quiet hours (returns it held as `scheduled`). Every front door
        calls this between `prepare` and the commit; a batch calls it per recipient, so a
        refusal is that recipient's error."""
        if self._optout is not None:
            message = await self._optout.apply(message)
        if self._policy is None:
            return message
        # Suspension, spend cap, daily quota and rate limit: counted as in flight until the
        # commit settles it (`submit_many`, or `release` when the caller gives up first).
        admitted = await self._policy.admit(message, rate_limited=rate_limited)
        self._admitted[_admission_key(admitted.message)] = admitted
        return admitted.message

    async def quiet_hold(
        self, *, account_id: str, destination: str, message_type: MessageType, at: float
    ) -> float:
        """When a message due at `at` may go under the account's quiet hours: `at`, or the
        end of the recipient's quiet time (for a message rescheduled after its intake)."""
        if self._optout is None:
            return at
        view = await self._optout.account(account_id)
        return view.hold_until(destination, message_type, at) or at

    def admit_now(self, message: NewMessage) -> NewMessage | None:
        """`admit` when no policy needs I/O (cached opt-out list and account settings, rate
        counted in memory): the answer at once, without a coroutine. None, with nothing
        counted, when one would wait: await `admit` then."""
        if self._optout is not None:
            applied = self._optout.apply_now(message)
            if applied is None:
                return None
            message = applied
        if self._policy is None:
            return message
        admitted = self._policy.admit_now(message)
        if admitted is None:
            return None
        self._admitted[_admission_key(admitted.message)] = admitted
        return admitted.message

    def release(self, messages: Sequence[NewMessage]) -> None:
        """Give back what `admit` counted for messages that will not be committed."""
        self._settle(messages, committed=False)

    def _settle(self, messages: Iterable[NewMessage], *, committed: bool) -> None:
        for m in messages:
            admitted = self._admitted.pop(_admission_key(m), None)
            if admitted is not None and self._policy is not None:
                self._policy.settle(admitted, committed=committed)

    async def submit_many(
        self,
        messages: Sequence[NewMessage],
        *,
        batch: NewBatch | None = None,
        idempotency: IdempotencyRecord | None = None,
    ) -> bool:
        """Commit prepared messages with their batch row and idempotency record, all in one
        transaction shared with whatever else is committing; return once durable. False: the
        key was taken by a request that committed first, and nothing of this one was written."""
        committed = False
        try:
            self._check_room()
            started = time.perf_counter()
            unit = SubmissionUnit(tuple(messages), batch, idempotency)
            committed = await self._commit.submit(unit)
            self._metrics.intake_latency.observe(time.perf_counter() - started)
        except asyncio.CancelledError:
            committed = True  # the caller left; the group commit goes on and will count
            raise
        finally:
            self._settle(messages, committed=committed)
        return committed

    async def _write(self, units: Sequence[SubmissionUnit]) -> list[bool]:
        messages = [m for u in units for m in u.messages]
        part_count = sum(len(m.parts) for m in messages)
        owned = self._dispatcher.reserve(part_count)
        owner = self._node_id if owned else None
        try:
            if any(u.batch or u.idempotency for u in units):
                committed = await self._store.insert_submissions(units, owner=owner)
                messages = [
                    m for u, ok in zip(units, committed, strict=True) if ok for m in u.messages
                ]
            else:
                await self._store.insert_messages(messages, owner=owner)
                committed = [True] * len(units)
        except BaseException:
            if owned:
                self._dispatcher.cancel_reservation(part_count)
            raise
        if owned:
            self._dispatcher.hand_over(
                [r for m in messages for r in _records(m)], reserved=part_count
            )
        # Counted per account and type, one increment each per write rather than per message.
        accepted: Counter[tuple[str, MessageType]] = Counter()
        segments: Counter[tuple[str, MessageType]] = Counter()
        for m in messages:
            key = (m.account_id, m.message_type)
            if not m.continuation:  # a later part of an SMPP long message is not a new message
                accepted[key] += 1
            segments[key] += m.billed_segments or len(m.parts)
        metrics = self._metrics
        for (account_id, kind), count in accepted.items():
            metrics.child(metrics.messages_accepted, account_id, kind.value).inc(count)
        for (account_id, kind), count in segments.items():
            metrics.child(metrics.segments_accepted, account_id, kind.value).inc(count)
        return committed

    def hand_in(self, message: NewMessage) -> asyncio.Future[bool]:
        """Hand an admitted message to the group commit and return at once: the future settles
        when the write ends, and what `admit` counted is settled by the write, not by whoever
        waits (the SMPP server follows the future with a callback, without a task per PDU).
        Raises at once, having handed in nothing, when the node is draining or the store is
        behind."""
        try:
            self._check_room()
        except BaseException:
            self._settle([message], committed=False)
            raise
        started = time.perf_counter()
        future = self._commit.enqueue(SubmissionUnit((message,), None, None))

        def written(done: asyncio.Future[bool]) -> None:
            committed = not done.cancelled() and done.exception() is None
            if committed:
                self._metrics.intake_latency.observe(time.perf_counter() - started)
            self._settle([message], committed=committed)

        future.add_done_callback(written)
        return future

    def _method(
        self, account_id: str, destination: str, kind: MessageType, source: str
    ) -> Concatenation:
        route = self.route(
            account_id=account_id, destination=destination, message_type=kind, source=source
        )
        return self._concatenation.get(route.connectors[0], Concatenation.UDH8)

    def concat_reference(self, destination: str) -> int:
        """The next concatenation reference for a long message to `destination`.

        References cycle per destination (from a random start), so one repeats only after 255
        later long messages to the same handset: far beyond how many a handset reassembles at
        once. They are released at once rather than tracked until the last part is sent,
        which would tie intake to dispatch on whichever node sends the parts.
        """
        reference = self._references.allocate(destination)
        self._references.release(destination, reference)
        return reference

    def route(
        self, *, account_id: str, destination: str, message_type: MessageType, source: str = ""
    ) -> Route:
        return self._router.route(
            account_id=account_id,
            destination=destination,
            message_type=message_type.value,
            source=source,
        )

    def price(
        self,
        *,
        account_id: str,
        destination: str,
        message_type: MessageType,
        source: str,
        segments: int,
    ) -> float:
        """What a message of `segments` would cost (for the preview): per segment, the
        account's price or its route's."""
        route = self.route(
            account_id=account_id,
            destination=destination,
            message_type=message_type,
            source=source,
        )
        per_segment = route.price
        if self._policy is not None:
            per_segment = self._policy.price_per_segment(account_id, per_segment)
        return price_for(per_segment, segments) or 0.0

    def _check_room(self) -> None:
        if self._closing:
            # Draining: a submission that arrives now is refused (503, ESME_RX_T_APPN), never
            # taken in after the commits the drain waits for.
            raise ShuttingDown("this node is shutting down; submit to another node")
        # Commits that have not started yet: when the store cannot keep up, callers hear it
        # (429, ESME_RMSGQFUL) instead of the gateway buffering without bound.
        if self._commit.pending >= self._max_pending:
            raise QueueFull(f"{self._commit.pending} submissions are waiting for the store")

    async def drain(self) -> None:
        """Refuse new submissions and wait for those being committed to be answered."""
        self._closing = True
        await self._commit.drain()


def validate_sender(sender: str) -> str:
    value = sender.strip()
    if _NUMERIC_SENDER.match(value) or _ALPHANUMERIC_SENDER.match(value):
        return value
    raise InvalidSender(
        "sender must be up to 11 letters, digits or spaces, or a number of up to 15 digits"
    )


def _admission_key(m: NewMessage) -> tuple[str, int]:
    """Each part of an SMPP long message comes in as a message of its own with the same id:
    admitted and settled apart, so counted apart (by the id and its first part)."""
    return m.id, m.parts[0].seq if m.parts else 0


def _records(m: NewMessage) -> list[PartRecord]:
    total = len(m.parts)
    return [
        PartRecord(
            message_id=m.id,
            seq=p.seq,
            total=total,
            account_id=m.account_id,
            source=m.source,
            destination=m.destination,
            encoding=p.encoding,
            data_coding=p.data_coding,
            udh=p.udh,
            payload=p.payload,
            connector=m.connector,
            priority=m.priority,
            registered_delivery=m.registered_delivery,
            attempts=0,
            expires_at=m.expires_at,
        )
        for p in m.parts
        if m.send_at is None or m.send_at <= m.created_at
    ]


def _schedule(submission: Submission, now: float) -> tuple[float | None, float | None]:
    """(send_at, expires_at) of a submission, or `InvalidSchedule` saying what is wrong."""
    send_at = submission.send_at
    if send_at is not None:
        if send_at > now + MAX_SCHEDULE_AHEAD:
            raise InvalidSchedule("send_at is more than 35 days ahead")
        if send_at <= now:
            send_at = None  # a time just past (clock skew, a slow client) means now
    expires_at = None
    if submission.validity is not None:
        if not MIN_VALIDITY <= submission.validity <= MAX_VALIDITY:
            raise InvalidSchedule("validity must be between 10 seconds and 7 days")
        expires_at = (send_at or now) + submission.validity
    return send_at, expires_at
