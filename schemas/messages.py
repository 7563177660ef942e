"""Public API models for messages: what clients send and what they read back.

Storage records never leave the gateway as they are; routes convert them to these models, so a
column added to the store does not leak into the API.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MessageTypeName = Literal["otp", "transactional", "promotional"]
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


class MessageCreate(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    to: str = Field(description="Destination in international format", examples=["+4915112345678"])
    from_: str = Field(
        alias="from", description="Sender ID: up to 11 alphanumerics or a number", examples=["Acme"]
    )
    text: str = Field(max_length=10_000, examples=["Your code is 123456"])
    type: MessageTypeName = "transactional"
    client_ref: str | None = Field(default=None, max_length=128)


class MessageAccepted(BaseModel):
    id: str
    status: StatusName
    segments: int
    encoding: str


class PartPublic(BaseModel):
    seq: int
    status: StatusName
    upstream_id: str | None
    connector: str
    attempts: int
    error_code: str | None
    submitted_at: float | None
    done_at: float | None


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
    error_code: str | None
    error_detail: str | None
    parts: list[PartPublic]

    model_config = ConfigDict(populate_by_name=True)
