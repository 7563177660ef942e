"""The HTTP connector's options, validated once at start.

Options come from a `[connectors.NAME]` table (`kind = "http"`). Every mistake is reported as a
`ConfigError` whose lines name the connector and the option (`connector 'acme': option
response.id: ...`), so a typo stops start-up instead of failing every message later.
`${NAME}` in the url, header values, secrets and `callback_base_url` is replaced by the
environment variable NAME (a missing one is an error), so secrets stay out of the file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from connectors.http.template import Template, TemplateError
from gateway.domain import ConfigError

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

# What a carrier's receipt status word means in our lifecycle ("intermediate" leaves the part
# submitted). Matched without regard to case; `statuses` in the configuration adds to these and
# wins over them. The words are the SMPP 3.4 Appendix B states and the usual HTTP-API ones.
DEFAULT_RECEIPT_STATUSES: dict[str, str] = {
    "delivered": "delivered",
    "delivrd": "delivered",
    "undelivered": "undelivered",
    "undeliv": "undelivered",
    "failed": "undelivered",
    "deleted": "undelivered",
    "expired": "expired",
    "rejected": "rejected",
    "rejectd": "rejected",
    "accepted": "intermediate",
    "acceptd": "intermediate",
    "enroute": "intermediate",
    "sent": "intermediate",
    "queued": "intermediate",
    "buffered": "intermediate",
    "unknown": "intermediate",
}

Lifecycle = Literal["delivered", "undelivered", "expired", "rejected", "intermediate"]


def expand_env(value: str) -> str:
    """`${NAME}` replaced by the environment variable; a missing one is an error, not ""."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ValueError(f"environment variable {name} is not set")
        return os.environ[name]

    return _ENV.sub(replace, value)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ResponseOptions(_Strict):
    """How to read the carrier's answer to a submit."""

    # Dotted path into a JSON body (`messages.0.id`); digits index lists.
    id: str | None = None
    # For text bodies: a regular expression whose first group is the id (`^OK ([0-9a-f]+)`).
    id_regex: str | None = None
    # HTTP statuses that mean "accepted" when the body carries an id; default: every 2xx.
    success_statuses: list[int] | None = None
    error_code: str | None = None  # dotted path to the carrier's own error code
    error_text: str | None = None  # dotted path to its error message
    error_regex: str | None = None  # text bodies: group 1 is the code
    # Carrier error codes that mean "try again later" / "slow down" whatever the HTTP status
    # (some APIs answer 200 with a throttling code in the body).
    temporary_codes: list[str] = Field(default_factory=list)
    throttle_codes: list[str] = Field(default_factory=list)

    @field_validator("id_regex", "error_regex")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                compiled = re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
            if compiled.groups < 1:
                raise ValueError("needs a group: (...) around the part to take")
        return value

    @field_validator("success_statuses")
    @classmethod
    def _statuses(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and (not value or any(not 200 <= s <= 299 for s in value)):
            raise ValueError("must list 2xx statuses only")
        return value

    @model_validator(mode="after")
    def _needs_id(self) -> ResponseOptions:
        if self.id is None and self.id_regex is None:
            raise ValueError("set `id` (a JSON path such as messages.0.id) or `id_regex`")
        return self


class ReceiptCallback(_Strict):
    """Where a delivery receipt's fields are in the carrier's callback."""

    path: str = "receipt"  # /v1/callbacks/NAME/<path>
    items: str | None = None  # dotted path to a list of receipts in one callback
    id: str = "id"
    status: str = "status"
    error_code: str | None = None
    statuses: dict[str, Lifecycle] = Field(default_factory=dict)

    def status_map(self) -> dict[str, str]:
        mapping = dict(DEFAULT_RECEIPT_STATUSES)
        mapping.update({word.lower(): state for word, state in self.statuses.items()})
        return mapping


class MoCallback(_Strict):
    """Where an inbound (MO) message's fields are in the carrier's callback."""

    path: str = "mo"
    source: str = Field(default="from", alias="from")
    destination: str = Field(default="to", alias="to")
    text: str = "text"
    # Carriers often drop the `+`: an all-digit number longer than a short code is taken as
    # international (E.164 without its `+`). Set false to keep such numbers as they come.
    international_digits: bool = True

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class CallbackOptions(_Strict):
    """Authentication and parsing of the carrier's callbacks."""

    # A shared secret the carrier sends in a header or a query parameter...
    secret: str | None = None
    secret_header: str | None = None
    secret_query: str | None = None
    # ... and/or an HMAC of the raw body in a header (`sha256=<hex>` with signature_prefix).
    signature_secret: str | None = None
    signature_header: str | None = None
    signature_algorithm: Literal["sha1", "sha256", "sha512"] = "sha256"
    signature_encoding: Literal["hex", "base64"] = "hex"
    signature_prefix: str = ""
    # Only with this set may callbacks be unauthenticated: never by omission.
    allow_unauthenticated: bool = False
    # How the body is read: `auto` follows Content-Type (JSON or form) and merges the query
    # string under it, which also covers carriers that call back with GET.
    format: Literal["auto", "json", "form", "query"] = "auto"
    ok_body: str = "OK"  # what a committed callback is answered with (status 200)
    receipt: ReceiptCallback | None = Field(default_factory=ReceiptCallback)
    mo: MoCallback | None = None

    @field_validator("secret", "signature_secret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = expand_env(value)
        if len(value) < 16:
            raise ValueError("a callback secret needs at least 16 characters")
        return value

    @model_validator(mode="after")
    def _authenticated(self) -> CallbackOptions:
        if self.secret is not None and (self.secret_header is None) == (self.secret_query is None):
            raise ValueError("with `secret`, set exactly one of secret_header or secret_query")
        if (self.signature_secret is None) != (self.signature_header is None):
            raise ValueError("signature_secret and signature_header go together")
        if self.secret is None and self.signature_secret is None and not self.allow_unauthenticated:
            raise ValueError(
                "callbacks need `secret` (with secret_header or secret_query) or "
                "`signature_secret` (with signature_header); set allow_unauthenticated = true "
                "only for a carrier that can do neither"
            )
        if self.receipt is None and self.mo is None:
            raise ValueError("set `receipt`, `mo` or both")
        return self


class HttpOptions(_Strict):
    method: Literal["GET", "POST", "PUT", "PATCH"] = "POST"
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    body: Literal["json", "form", "query"] = "json"
    template: dict[str, Any]
    response: ResponseOptions
    callback: CallbackOptions | None = None
    # The gateway's public address as the carrier reaches it; `{callback_url}` is
    # `<callback_base_url>/v1/callbacks/<name>/<receipt path>`.
    callback_base_url: str | None = None
    concurrency: int = Field(default=10, ge=1, le=1000)
    timeout: float = Field(default=10.0, gt=0, le=300)
    verify: bool = True
    ca_file: str | None = None
    # A part that is one segment of a longer message (failed over from an SMPP route, or this
    # connector set to segment): `send` it with its own `{text}` and `{udh_hex}`, or `refuse`
    # it as a permanent error for a carrier that cannot join segments.
    segments: Literal["send", "refuse"] = "send"
    # How intake cuts long texts for this connector: `payload` keeps one part with the whole
    # text (an HTTP API takes whole texts); udh8/udh16 for a carrier that wants segments.
    concatenation: Literal["payload", "udh8", "udh16"] = "payload"

    @field_validator("url", "callback_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = expand_env(value)
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("callback_base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value is not None else None

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        expanded = {}
        for name, header in value.items():
            try:
                expanded[name] = expand_env(header)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        return expanded

    @field_validator("ca_file")
    @classmethod
    def _ca_file(cls, value: str | None) -> str | None:
        if value is not None and not os.path.isfile(value):
            raise ValueError(f"no such file: {value}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> HttpOptions:
        if self.method == "GET" and self.body != "query":
            raise ValueError('method GET sends no body: use body = "query"')
        if self.ca_file is not None and not self.verify:
            raise ValueError("ca_file is set but verify = false: choose one")
        return self


def parse_options(name: str, options: Mapping[str, Any]) -> tuple[HttpOptions, Template]:
    """Validated options and the compiled body template, or `ConfigError` naming the option."""
    try:
        parsed = HttpOptions.model_validate(dict(options))
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "options"
            message = str(error["msg"]).removeprefix("Value error, ")
            lines.append(f"connector {name!r}: option {where}: {message}")
        raise ConfigError("\n".join(lines)) from None
    try:
        template = Template(parsed.template, flat=parsed.body != "json", url=parsed.url)
    except TemplateError as exc:
        raise ConfigError(f"connector {name!r}: option {exc.where}: {exc}") from None
    if "callback_url" in template.placeholders and parsed.callback_base_url is None:
        raise ConfigError(
            f"connector {name!r}: option callback_base_url: the template uses {{callback_url}}, "
            "so the gateway's public address is needed"
        )
    return parsed, template
