"""Public models of the admin API (`/v1/admin`): accounts, keys, SMPP credentials, numbers,
routes and connectors."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt

AccountName = Field(
    min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", examples=["acme"]
)
SenderPattern = Annotated[str, Field(min_length=1, max_length=16)]


class AccountLimits(BaseModel):
    """Limits and sender rules; null (or 0 for rate_limit) means no limit."""

    model_config = ConfigDict(extra="forbid")

    rate_limit: StrictFloat | None = Field(
        default=None,
        ge=0,
        le=1_000_000,
        description="segments/s over REST and SMPP; over it: 429 "
        "account.rate_limited with Retry-After (SMPP: ESME_RTHROTTLED)",
    )
    daily_quota: StrictInt | None = Field(
        default=None,
        ge=0,
        le=10**12,
        description="segments per UTC day; over it: 429 account.quota_exceeded",
    )
    spend_cap: StrictFloat | None = Field(
        default=None,
        ge=0,
        le=10**12,
        description="price x segments per UTC calendar month; over it: "
        "402 account.spend_cap_reached",
    )
    allowed_senders: list[SenderPattern] | None = Field(
        default=None,
        description="sender IDs, exact or a prefix ending in `*` (case-insensitive); empty: any "
        "valid sender. Countries that require registered alphanumeric senders need them listed "
        "exactly.",
        max_length=1000,
    )
    price: StrictFloat | None = Field(
        default=None,
        ge=0,
        le=1_000_000,
        description="per segment; replaces the route's price when set",
    )


class AccountCreate(AccountLimits):
    name: str = AccountName


class AccountUpdate(AccountLimits):
    """Only the fields sent change; send null to remove a limit."""

    name: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
    )
    status: Literal["active", "suspended"] | None = Field(
        default=None, description="a suspended account's keys and binds are refused"
    )


class UsagePublic(BaseModel):
    segments_today: int = Field(description="segments accepted this UTC day")
    spend_this_month: float = Field(description="price x segments this UTC calendar month")


class AccountPublic(BaseModel):
    id: str
    name: str
    status: Literal["active", "suspended"]
    rate_limit: float | None
    daily_quota: int | None
    spend_cap: float | None
    allowed_senders: list[str]
    price: float | None
    created_at: float
    updated_at: float | None
    usage: UsagePublic | None = Field(default=None, description="in GET of one account")


class AccountsPublic(BaseModel):
    data: list[AccountPublic]


class KeyCreated(BaseModel):
    key: str = Field(description="the API key: shown only in this response, store it now")
    prefix: str = Field(description="what lists show of the key, and what revokes it")
    created_at: float


class KeyPublic(BaseModel):
    prefix: str
    created_at: float
    revoked_at: float | None
    active: bool


class KeysPublic(BaseModel):
    data: list[KeyPublic]


class SmppCredentialPut(BaseModel):
    """Create (password required) or change a credential; absent fields keep their value."""

    model_config = ConfigDict(extra="forbid")

    password: str | None = Field(default=None, min_length=1, max_length=8)
    allowed_networks: list[str] | None = Field(
        default=None, max_length=100, description="CIDRs binds may come from; empty: any"
    )
    max_binds: StrictInt | None = Field(default=None, ge=1, le=1000)
    throughput: StrictFloat | None = Field(
        default=None, ge=0, le=1_000_000, description="segments/s; 0: no limit"
    )


class SmppCredentialPublic(BaseModel):
    system_id: str
    allowed_networks: list[str]
    max_binds: int
    throughput: float


class SmppCredentialsPublic(BaseModel):
    data: list[SmppCredentialPublic]


class NumberPublic(BaseModel):
    number: str
    created_at: float


class NumbersPublic(BaseModel):
    data: list[NumberPublic]


class RoutePut(BaseModel):
    """A routing rule (the fields of a `[[routes]]` table) and where it goes among the stored
    ones; stored rules are tried before the configuration file's."""

    model_config = ConfigDict(extra="forbid")

    position: StrictInt = Field(
        default=0, ge=-(10**9), le=10**9, description="lower first; ties by name"
    )
    connectors: list[str] = Field(min_length=1, description="in failover order")
    price: StrictFloat = Field(default=0.0, ge=0, le=1_000_000, description="per segment")
    accounts: list[str] = []
    prefixes: list[str] = []
    countries: list[str] = []
    carriers: list[str] = []
    senders: list[str] = []
    message_types: list[Literal["otp", "transactional", "promotional"]] = []


class RoutePublic(BaseModel):
    name: str
    source: Literal["admin", "config"] = Field(
        description="admin: stored, changed through this API; config: the configuration file"
    )
    position: int
    connectors: list[str]
    price: float
    accounts: list[str]
    prefixes: list[str]
    countries: list[str]
    carriers: list[str]
    senders: list[str]
    message_types: list[str]


class RoutesPublic(BaseModel):
    data: list[RoutePublic]


class BindPublic(BaseModel):
    name: str
    state: str
    in_flight: int


class ConnectorPublic(BaseModel):
    name: str
    default: bool = Field(description="the default route (GATEWAY_UPSTREAM)")
    binds: list[BindPublic]


class ConnectorsPublic(BaseModel):
    note: str = "connectors come from the configuration file and GATEWAY_UPSTREAM; read-only"
    data: list[ConnectorPublic]
