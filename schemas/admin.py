"""Public models of the admin API (`/v1/admin`): accounts, keys, SMPP credentials, numbers,
routes and connectors."""

from __future__ import annotations

from typing import Annotated, Any, Literal

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


ConnectorName = Field(
    min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$", examples=["carrier-b"]
)


class ConnectorCreate(BaseModel):
    """A connector, as a `[connectors.NAME]` table of the configuration file: `kind` (an
    installed connector: `smpp`, `http`, ...), its options (checked by the connector, as the
    file's are) and an optional `rate`. Secret options (password, secret, token, ...) are
    write-only: never returned."""

    model_config = ConfigDict(extra="forbid")

    name: str = ConnectorName
    kind: str = Field(min_length=1, max_length=64, examples=["smpp"])
    options: dict[str, Any] = Field(
        default_factory=dict,
        examples=[{"host": "smsc.example", "port": 2775, "system_id": "acme", "password": "pw"}],
    )
    rate: StrictFloat | StrictInt = Field(
        default=0, ge=0, le=1_000_000, description="segments/s, whole connector; 0: none"
    )


class ConnectorUpdate(BaseModel):
    """Options to change (merged into the stored ones; null removes one, secrets not sent are
    kept) and the rate. The connector is replaced on every node: the new one starts, the old
    one finishes what it has in flight."""

    model_config = ConfigDict(extra="forbid")

    options: dict[str, Any] | None = None
    rate: StrictFloat | StrictInt | None = Field(default=None, ge=0, le=1_000_000)


class ConnectorPublic(BaseModel):
    name: str
    kind: str
    source: Literal["admin", "config"] = Field(
        description="admin: made through this API; config: the configuration file (stop and "
        "start only)"
    )
    default: bool = Field(description="the default route (GATEWAY_UPSTREAM)")
    enabled: bool = Field(description="false: stopped through the API")
    state: Literal["running", "stopped"] = Field(description="on the node that answered")
    rate: float = Field(description="segments/s; 0: none")
    options: dict[str, Any] = Field(description="secrets left out (see `secrets`)")
    secrets: list[str] = Field(description="secret options that are set (write-only)")
    binds: list[BindPublic]
    binds_up: int
    in_flight: int
    queue_depth: int = Field(description="parts waiting in this node's lanes")
    breaker: Literal["closed", "open", "half_open"]
    created_at: float | None = None
    updated_at: float | None = None


class ConnectorsPublic(BaseModel):
    data: list[ConnectorPublic]
