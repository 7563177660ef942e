"""RFC 9457 problem details, with the gateway's stable error `code`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Problem(BaseModel):
    type: str = Field(description="A URI naming the problem type")
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable machine-readable code, e.g. message.invalid_number")
    errors: list[dict[str, Any]] | None = None
