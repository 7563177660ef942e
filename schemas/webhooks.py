"""Public models of webhooks: the subscription and the events POSTed to it.

Verifying an event (Python; any language with HMAC-SHA256 works the same way)::

    import hashlib, hmac, time

    def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
        fields = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(fields["t"])
        if abs(time.time() - timestamp) > tolerance:
            return False  # an old capture replayed
        signed = f"{timestamp}.".encode() + body  # the raw body, byte for byte
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, fields["v1"])

`header` is the `Gateway-Signature` request header (`t=<unix seconds>,v1=<hex>`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, StrictBool, StrictInt

from schemas.messages import IsoDatetime

EventTypeName = Literal[
    "message.submitted",
    "message.delivered",
    "message.undelivered",
    "message.expired",
    "message.rejected",
    "message.failed",
    "message.cancelled",
    "inbound.received",
]


class WebhookPut(BaseModel):
    url: str = Field(
        max_length=2048,
        description="http(s) URL on a public address; events are POSTed to it as JSON",
        examples=["https://example.com/sms-events"],
    )
    events: list[EventTypeName] | None = Field(
        default=None, description="event types to send; default: all of them"
    )
    rotate_secret: StrictBool = Field(
        default=False, description="issue a new signing secret (it is shown in this response)"
    )


class WebhookPublic(BaseModel):
    url: str
    events: list[str]
    secret: str | None = Field(
        default=None,
        description="the signing secret: present only when the webhook is created or the secret "
        "rotated; store it then, it is never shown again",
    )
    created_at: float
    updated_at: float


class WebhookReplay(BaseModel):
    from_sequence: StrictInt | None = Field(
        default=None, ge=1, description="resend from this sequence"
    )
    since: IsoDatetime | None = Field(default=None, description="resend events created since")


class WebhookReplayed(BaseModel):
    replayed: int = Field(description="events made pending again; they are sent in order")


class WebhookEventPayload(BaseModel):
    """The JSON body of every webhook POST (documentation of the wire format)."""

    id: str = Field(description="stable across retries and replays: deduplicate on it")
    type: EventTypeName
    sequence: int = Field(description="per account, increases by one with each event")
    created_at: float
    data: dict[str, Any] = Field(
        description="message.*: message_id, status, previous_status, error_code, error_detail, "
        "to, from, created_at, at. inbound.received: inbound_id, from, to, text, encoding, "
        "parts, incomplete, received_at"
    )
