"""Public API models for stored templates."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

TEMPLATE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"


class TemplateWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(
        min_length=1,
        max_length=10_000,
        description="{{name}} placeholders, {{name|default}} defaults, \\{{ for literal braces",
        examples=["Hi {{name|there}}, your code is {{code}}"],
    )


class TemplatePublic(BaseModel):
    name: str
    text: str
    variables: list[str] = Field(description="every variable it uses, sorted")
    required: list[str] = Field(description="the variables without a default")
    created_at: float
    updated_at: float


class TemplatesPublic(BaseModel):
    templates: list[TemplatePublic]
    next_after: str | None = Field(
        description="pass as `after` for the next page; null on the last page"
    )
