"""Per-country sender ID rules: configuration, checked by `gateway.account_policy`."""

from __future__ import annotations

import phonenumbers
from pydantic import BaseModel, ConfigDict, field_validator


class SenderRules(BaseModel):
    """Per-country sender ID rules (`[sender_rules]` in the config file).

    `numeric_only`: countries whose networks do not carry alphanumeric senders (a long code,
    toll-free number or short code is needed). `registered_alphanumeric`: countries where an
    alphanumeric sender must be registered in advance; there it must be listed exactly (not by a
    pattern) in the account's allowed senders. Regions are ISO 3166 codes of the destination.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    numeric_only: tuple[str, ...] = ("US", "CA")
    registered_alphanumeric: tuple[str, ...] = (
        "AE", "BH", "CN", "EG", "ID", "IN", "JO", "KW", "OM", "QA", "SA", "TR", "VN",
    )  # fmt: skip

    @field_validator("numeric_only", "registered_alphanumeric")
    @classmethod
    def _regions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        upper = tuple(v.strip().upper() for v in value)
        if unknown := [v for v in upper if v not in phonenumbers.SUPPORTED_REGIONS]:
            raise ValueError(f"unknown country code(s): {', '.join(unknown)}")
        return upper
