"""Public API models for messages: what clients send and what they read back.

Storage records never leave the gateway as they are; routes convert them to these models, so a
column added to the store does not leak into the API.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
)

MessageTypeName = Literal["otp", "transactional", "promotional"]
EncodingName = Literal["gsm7", "latin1", "ucs2"]
StatusName = Literal[
    "accepted",
    "scheduled",
    "queued",
    "submitted",
    "delivered",
    "undelivered",
    "expired",
    "rejected",
    "failed",
    "cancelled",
]


def _not_a_number(value: object) -> object:
    # A bare number would be read as epoch seconds (so `0` means 1970): a client bug to report,
    # not a time to guess. ISO 8601 with a zone is the documented form.
    if isinstance(value, int | float):
        raise ValueError("expected an ISO 8601 string with a zone, not a number")
    return value


# A moment in a request body: ISO 8601 with a zone, never a number.
IsoDatetime = Annotated[AwareDatetime, BeforeValidator(_not_a_number)]


class MessageCreate(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    to: str = Field(description="Destination in international format", examples=["+4915112345678"])
    from_: str = Field(
        alias="from", description="Sender ID: up to 11 alphanumerics or a number", examples=["Acme"]
    )
    text: str = Field(max_length=10_000, examples=["Your code is 123456"])
    type: MessageTypeName = "transactional"
    client_ref: str | None = Field(default=None, max_length=128)
    encoding: EncodingName | None = Field(
        default=None,
        description="Pin an encoding; by default the cheapest that carries the text exactly "
        "(GSM 7-bit, GSM 7-bit with a national shift table, then UCS-2). Text the pinned "
        "encoding cannot carry is refused with message.unencodable_text, never replaced by '?'.",
    )
    transliterate: StrictBool = Field(
        default=False,
        description="Replace typographic quotes, dashes, ellipses and exotic spaces by GSM 7-bit "
        "equivalents when that avoids UCS-2; the response lists what was replaced.",
    )
    send_at: IsoDatetime | None = Field(
        default=None,
        description="Send later (ISO 8601 with a zone, at most 35 days ahead); the message is "
        "`scheduled` until then.",
    )
    validity: StrictInt | None = Field(
        default=None,
        description="Seconds the message may wait for delivery, counted from send_at or now "
        "(10 s to 7 days); past it an unsent message becomes `expired`, and carriers are told.",
    )


class Transliteration(BaseModel):
    original: str
    replacement: str


class MessageAccepted(BaseModel):
    id: str
    status: StatusName
    segments: int
    encoding: str
    transliterated: list[Transliteration] = []
    price: float | None = Field(
        default=None, description="price x segments: the account's price or its route's"
    )


class SegmentPreview(BaseModel):
    index: int = Field(description="1-based")
    text: str
    units: int = Field(description="septets (gsm7), octets (latin1) or UTF-16 code units (ucs2)")
    start: int = Field(description="offset of the segment's first character in the sent text")
    end: int = Field(description="offset just past its last character: the split point")


class MessagePreview(BaseModel):
    encoding: str
    data_coding: int
    segments: int
    units: int
    characters_per_segment: int = Field(description="the per-segment limit used, in units")
    national_language: str | None = Field(description="national shift table used, if any")
    ucs2_forced_by: list[str] = Field(description="the characters that made UCS-2 necessary")
    transliterated: list[Transliteration]
    text: str = Field(description="the text as it will be sent (after transliteration)")
    parts: list[SegmentPreview]
    price: float | None = Field(default=None, description="route price x segments")


class PartPublic(BaseModel):
    seq: int
    status: StatusName
    upstream_id: str | None
    connector: str
    attempts: int
    error_code: str | None
    submitted_at: float | None
    done_at: float | None
    raw_state: str | None = Field(
        default=None,
        description="the state the carrier reported last, as the connector read it (SMPP: "
        "the message_state name such as DELIVERED or UNDELIVERABLE)",
    )


class MessageTimestamps(BaseModel):
    """When the message reached each stage; null for a stage not reached (yet)."""

    accepted: float
    queued: float = Field(description="due for sending: at acceptance, or send_at if later")
    submitted: float | None
    done: float | None


class MessagePublic(BaseModel):
    id: str
    status: StatusName
    to: str
    from_: str = Field(alias="from")
    type: MessageTypeName
    encoding: str
    segments: int
    client_ref: str | None
    created_at: float
    updated_at: float
    submitted_at: float | None
    done_at: float | None
    upstream_ids: list[str]
    send_at: float | None = None
    expires_at: float | None = None
    price: float | None = Field(default=None, description="route price x segments")
    error_code: str | None
    error_detail: str | None
    parts: list[PartPublic]
    batch_id: str | None = Field(default=None, description="the batch it was sent in, if any")
    timestamps: MessageTimestamps | None = None

    model_config = ConfigDict(populate_by_name=True)
