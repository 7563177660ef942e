"""Messages, their parts and accounts, as the services and the store exchange them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from gateway.domain.status import Status


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

    @property
    def priority(self) -> int:
        return self.message_type.priority

    @property
    def status(self) -> Status:
        return (
            Status.SCHEDULED if self.send_at and self.send_at > self.created_at else Status.ACCEPTED
        )


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
