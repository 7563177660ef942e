"""Public API models for batches: one text or template, many recipients."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    WithJsonSchema,
    model_validator,
)

from schemas.messages import EncodingName, IsoDatetime, MessageTypeName, StatusName

MAX_RECIPIENTS = 10_000
VariableValue = str | int | float


class BatchRecipient(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: str = Field(description="Destination in international format", examples=["+4915112345678"])
    vars: dict[str, VariableValue] = Field(
        default_factory=dict,
        description="Values of the template's variables for this recipient",
        examples=[{"name": "Ann"}],
    )
    client_ref: str | None = Field(
        default=None, max_length=128, description="Overrides the batch's client_ref"
    )


# Each recipient is validated on its own, so one malformed recipient is that recipient's error
# (request.validation_failed in its result) and never fails the whole batch.
_RecipientItem = Annotated[Any, WithJsonSchema(BatchRecipient.model_json_schema())]


class BatchCreate(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    from_: str = Field(
        alias="from", description="Sender ID: up to 11 alphanumerics or a number", examples=["Acme"]
    )
    text: str | None = Field(
        default=None,
        max_length=10_000,
        description="A template: {{name}} takes the recipient's variable `name`, {{name|friend}} "
        "falls back to `friend` when it has none, \\{{ writes literal braces. A recipient "
        "missing a variable without a default gets template.missing_variable. "
        "Give `text` or `template`, not both.",
        examples=["Hi {{name|there}}, your order {{order}} has shipped"],
    )
    template: str | None = Field(
        default=None,
        max_length=64,
        description="The name of a stored template (PUT /v1/templates/{name}) to use as `text`",
    )
    type: MessageTypeName = "transactional"
    recipients: list[_RecipientItem] = Field(min_length=1, max_length=MAX_RECIPIENTS)
    client_ref: str | None = Field(default=None, max_length=128)
    encoding: EncodingName | None = None
    transliterate: StrictBool = False
    send_at: IsoDatetime | None = Field(
        default=None, description="Send every message of the batch later (at most 35 days)"
    )
    validity: StrictInt | None = Field(default=None, description="Seconds, 10 s to 7 days")

    @model_validator(mode="after")
    def _text_or_template(self) -> BatchCreate:
        if (self.text is None) == (self.template is None):
            raise ValueError("give either `text` or `template` (a stored template's name)")
        return self


class RecipientError(BaseModel):
    code: str = Field(examples=["message.invalid_number"])
    detail: str


class BatchMessage(BaseModel):
    to: str
    id: str
    status: StatusName
    segments: int
    price: float | None = Field(description="route price x segments")


class BatchRefusal(BaseModel):
    to: str | None = Field(description="as given; null when the recipient was not an object")
    error: RecipientError


class BatchAccepted(BaseModel):
    batch_id: str
    recipients: int
    accepted: int
    rejected: int
    results: list[BatchMessage | BatchRefusal] = Field(
        description="one per recipient, in the order of the request"
    )


class BatchPublic(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    created_at: float
    from_: str = Field(alias="from")
    type: MessageTypeName
    client_ref: str | None
    recipients: int
    accepted: int = Field(description="messages created")
    rejected: int = Field(description="recipients refused at submission")
    statuses: dict[str, int] = Field(
        description="the batch's messages per current status", examples=[{"delivered": 2}]
    )
    segments: int
    price: float | None = Field(description="sum of route price x segments of its messages")


__all__ = [
    "MAX_RECIPIENTS",
    "BatchAccepted",
    "BatchCreate",
    "BatchMessage",
    "BatchPublic",
    "BatchRecipient",
    "BatchRefusal",
    "RecipientError",
]
