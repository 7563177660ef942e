"""Public API models for suppression (opt-out) lists and an account's opt-out settings."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from schemas.messages import MessageTypeName

_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


class SuppressionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    numbers: list[str] = Field(
        min_length=1,
        max_length=1000,
        description="Numbers in international format; stored as E.164",
        examples=[["+4915112345678"]],
    )
    reason: str | None = Field(default=None, max_length=200, examples=["asked by phone"])


class SuppressionPublic(BaseModel):
    number: str = Field(description="E.164")
    reason: str | None
    source: Literal["api", "admin", "keyword"] = Field(
        description="who added it: the account's API, an operator, or the handset's STOP"
    )
    created_at: float


class SuppressionsAdded(BaseModel):
    added: list[str] = Field(description="the numbers as stored (E.164)")


class SuppressionsPage(BaseModel):
    data: list[SuppressionPublic]
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null on the last page"
    )


class SuppressionCheck(BaseModel):
    number: str = Field(description="E.164")
    suppressed: bool
    suppression: SuppressionPublic | None = None


class QuietHoursModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: StrictBool = True
    start: str = Field(default="21:00", description="HH:MM in the recipient's local time")
    end: str = Field(default="08:00", description="HH:MM; earlier than start spans midnight")
    types: list[Literal["transactional", "promotional"]] = Field(
        default=["promotional"], description="message types held; OTP is never held"
    )

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not _CLOCK.match(value):
            raise ValueError("use HH:MM, 00:00 to 23:59")
        return value


class OptOutSettingsModel(BaseModel):
    """An account's opt-out settings (also the body of PUT: send the whole object)."""

    model_config = ConfigDict(extra="forbid")

    enforce: list[MessageTypeName] = Field(
        default=["promotional"],
        description="message types a suppressed number does not receive",
    )
    quiet_hours: QuietHoursModel = Field(default_factory=QuietHoursModel)
    keyword_replies: StrictBool = Field(
        default=True, description="answer STOP, START and HELP automatically"
    )
    stop_reply: str | None = Field(
        default=None, max_length=640, description="null: a default in the keyword's language"
    )
    start_reply: str | None = Field(default=None, max_length=640)
    help_reply: str | None = Field(default=None, max_length=640)
