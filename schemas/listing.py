"""Public models of paginated lists: messages and inbound (MO) messages.

A page carries `next_cursor`; pass it back as `cursor` for the next (older) page. It is null on
the last page.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas.messages import MessageTypeName, StatusName


class MessageSummary(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

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
    send_at: float | None = None
    error_code: str | None
    batch_id: str | None = None


class MessagesPage(BaseModel):
    data: list[MessageSummary]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null: last")


class InboundPublic(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    from_: str = Field(alias="from")
    to: str
    text: str
    encoding: str
    parts: int
    incomplete: bool = Field(description="some parts never arrived; assembled from the rest")
    connector: str
    received_at: float


class InboundPage(BaseModel):
    data: list[InboundPublic]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null: last")
