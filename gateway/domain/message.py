"""Messages, their parts and accounts, as the services and the store exchange them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from gateway.domain.status import Status
from gateway.slots import slot_init


class MessageType(StrEnum):
    """Traffic class; decides the priority lane (OTP before transactional before promotional)."""

    OTP = "otp"
    TRANSACTIONAL = "transactional"
    PROMOTIONAL = "promotional"

    @property
    def priority(self) -> int:
        """Lower goes first."""
        return _PRIORITY[self]


_PRIORITY = {MessageType.OTP: 0, MessageType.TRANSACTIONAL: 1, MessageType.PROMOTIONAL: 2}


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    name: str
    active: bool = True


class PartKey(NamedTuple):
    message_id: str
    seq: int


def public_part_id(message_id: str, seq: int, total: int) -> str:
    """The id an ESME gets for one submit_sm: the message id, or for one part of a long
    message the message id and the part number, so each part's receipt is its own."""
    return message_id if total == 1 else f"{message_id}-{seq + 1}"


def parse_public_part_id(value: str) -> tuple[str, int | None]:
    """(message id, part seq or None for the whole message)."""
    message_id, _, number = value.partition("-")
    if number.isdigit() and int(number) >= 1:
        return message_id, int(number) - 1
    return message_id, None


@slot_init
@dataclass(frozen=True, slots=True)
class NewPart:
    """One segment as stored: the body in its canonical 3GPP form (GSM 7-bit as one septet per
    octet, UCS-2 as UTF-16BE) and the UDH that goes with it. A connector renders it for its
    upstream (septet packing, UDH or SAR TLVs) at send time, so failover to a connector with
    other settings needs nothing from intake."""

    seq: int
    encoding: str
    data_coding: int
    udh: bytes
    payload: bytes
    # SMPP registered_delivery bits 0-1 of the submit that carried this part: whether the ESME
    # wants a receipt for it (0 no, 1 always, 2 on failure only). REST parts: 0.
    esme_receipt: int = 0


@slot_init
@dataclass(frozen=True, slots=True)
class NewMessage:
    id: str
    account_id: str
    source: str
    destination: str
    body: str
    encoding: str
    message_type: MessageType
    connector: str
    parts: tuple[NewPart, ...]
    created_at: float
    client_ref: str | None = None
    registered_delivery: bool = True
    send_at: float | None = None
    expires_at: float | None = None
    # Parts of an SMPP-submitted long message arrive in separate PDUs, each committed before it
    # is answered: the first creates the message with its declared segment count, the others
    # are `continuation`s that add their part (and, with the last, the assembled body).
    segments: int | None = None
    continuation: bool = False
    origin_system_id: str | None = None
    esme_receipt: int = 0  # a receipt for the whole message (registered_delivery bits 0-1)
    # Segments billed and reported when they differ from the part rows (message_payload).
    billed_segments: int | None = None
    price: float | None = None  # the route's price per segment
    batch_id: str | None = None  # the batch request it came in (POST /v1/messages/batch)

    @property
    def segment_count(self) -> int:
        return self.segments if self.segments is not None else len(self.parts)

    @property
    def priority(self) -> int:
        return self.message_type.priority

    @property
    def status(self) -> Status:
        return (
            Status.SCHEDULED if self.send_at and self.send_at > self.created_at else Status.ACCEPTED
        )


@slot_init
@dataclass(frozen=True, slots=True)
class PartRecord:
    """A part as dispatch sees it: everything a connector needs to send it."""

    message_id: str
    seq: int
    total: int
    account_id: str
    source: str
    destination: str
    encoding: str
    data_coding: int
    udh: bytes
    payload: bytes
    connector: str
    priority: int
    registered_delivery: bool
    attempts: int
    expires_at: float | None = None

    @property
    def key(self) -> PartKey:
        return PartKey(self.message_id, self.seq)


@slot_init
@dataclass(frozen=True, slots=True)
class PartUpdate:
    """A change to one part, applied by the status writer."""

    message_id: str
    seq: int
    status: Status
    at: float
    upstream_id: str | None = None
    error_code: str | None = None
    error_detail: str | None = None
    # For a temporary failure: the part goes back to the queue, due again at this time.
    retry_at: float | None = None
    # This update records a send attempt (a submit response or a failure to send).
    attempt: bool = False
    # The connector that sent it, when failover chose another than the route's first.
    connector: str | None = None
    # The carrier's own state word (DELIVRD, UNDELIV, ...) of a receipt.
    raw_state: str | None = None


@slot_init
@dataclass(frozen=True, slots=True)
class StatusChange:
    """A message-level transition that the status writer committed (and put in the outbox)."""

    message_id: str
    account_id: str
    previous: Status
    status: Status
    at: float


@dataclass(frozen=True, slots=True)
class PartView:
    seq: int
    status: Status
    upstream_id: str | None
    connector: str
    attempts: int
    error_code: str | None
    submitted_at: float | None
    done_at: float | None
    raw_state: str | None = None


@dataclass(frozen=True, slots=True)
class MessageRecord:
    id: str
    account_id: str
    source: str
    destination: str
    status: Status
    encoding: str
    segments: int
    message_type: MessageType
    client_ref: str | None
    created_at: float
    updated_at: float
    submitted_at: float | None
    done_at: float | None
    error_code: str | None
    error_detail: str | None
    parts: tuple[PartView, ...] = field(default=())
    send_at: float | None = None
    expires_at: float | None = None
    price: float | None = None  # per segment
    batch_id: str | None = None


@dataclass(frozen=True, slots=True)
class SmppCredential:
    """What an ESME binds with, and the limits of its binds."""

    system_id: str
    account_id: str
    password_hash: str
    allowed_networks: tuple[str, ...] = ()  # CIDRs; empty: any address
    max_binds: int = 10
    throughput: float = 0.0  # segments per second over all its binds; 0: no limit


@slot_init
@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A receipt (or MO) owed to an ESME, waiting for one of its receivers to take it."""

    id: int
    system_id: str
    kind: str
    receipted_id: str | None
    status: str | None
    error_code: str | None
    source: str
    destination: str
    text: str
    submitted_at: float | None
    done_at: float | None
    attempts: int
    encoding: str | None = None  # MO: the encoding the text came in


@dataclass(frozen=True, slots=True)
class OutboxTake:
    """The receipts a node can send at once, asked of the status writer's transaction: for each
    system_id in `room` (a receiver of it is bound on the node), up to that many are inserted
    already leased to `node_id` until `lease_until`, and handed to it without a claim."""

    node_id: str
    room: Mapping[str, int]
    at: float
    lease_until: float


@dataclass(frozen=True, slots=True)
class AppliedUpdates:
    """What one status write did: the message transitions, the receipts it inserted leased to
    the node that asked (`OutboxTake`), and how many it left in the outbox for any node."""

    changes: list[StatusChange]
    taken: list[OutboxItem]
    left: int


@dataclass(frozen=True, slots=True)
class InboundPart:
    """One MO part as a carrier delivered it, its text still encoded: parts are joined before
    decoding, because senders cut escape and surrogate pairs across parts."""

    source: str
    destination: str
    encoding: str
    data_coding: int
    body: bytes  # GSM 7-bit as unpacked septets
    connector: str
    received_at: float
    concat: tuple[int, int, int] | None = None  # (reference, total, seq 1-based)
    national_locking: int | None = None
    national_single: int | None = None


@dataclass(frozen=True, slots=True)
class InboundRecord:
    id: str
    account_id: str | None
    source: str
    destination: str
    text: str
    encoding: str
    parts: int
    incomplete: bool
    connector: str
    received_at: float
