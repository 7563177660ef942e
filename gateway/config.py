"""Settings from `GATEWAY_*` environment variables and an optional TOML file.

Environment variables win over the file (`GATEWAY_CONFIG_FILE`), which wins over the defaults.
Nothing here is global: the composition root calls `load_settings()` once and passes the result
down, so a test can run two configurations in one process.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from gateway.domain import ConfigError
from gateway.routing import RouteRule
from gateway.sender_rules import SenderRules
from gateway.store import sqlite_path

# Upstream URL options handed to the connector unchanged (see connectors/smpp/README.md).
_PASSED_THROUGH = frozenset(
    {"system_type", "receipt_id", "receipts_for"}
    | {"bind_mode", "receivers", "bind_rate", "response_timeout", "enquire_link_interval"}
    | {"reconnect_min", "reconnect_max"}
    | {"tls", "tls_ca", "tls_verify", "source_ton", "source_npi", "dest_ton", "dest_npi"}
    | {f"data_coding_{encoding}" for encoding in ("gsm7", "latin1", "ucs2", "binary")}
)


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    """The default route's upstream, parsed from `GATEWAY_UPSTREAM`."""

    kind: str  # "simulator" or a connector entry-point name ("smpp", ...)
    url: str
    host: str = "127.0.0.1"
    port: int = 0
    system_id: str = ""
    password: str = ""
    binds: int = 1
    window: int = 10
    tps: float = 0.0  # 0: no limit
    concatenation: str = "udh8"
    packed: bool = False
    # Connector options the URL carries as they are; the connector validates them.
    options: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, value: str) -> UpstreamConfig:
        if value == "simulator":
            return cls(kind="simulator", url=value)
        parts = urlsplit(value)
        if not parts.scheme or not parts.hostname:
            raise ValueError("expected 'simulator' or a URL such as smpp://user:pw@host:2775")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        known = {"binds", "window", "tps", "concat", "packed"}
        if unknown := set(query) - known - _PASSED_THROUGH:
            raise ValueError(f"unknown upstream option(s): {', '.join(sorted(unknown))}")
        try:
            binds = int(query.get("binds", 1))
            window = int(query.get("window", 10))
            tps = float(query.get("tps", 0))
        except ValueError as exc:
            raise ValueError(f"bad upstream option: {exc}") from None
        if binds < 1 or window < 1 or tps < 0:
            raise ValueError("binds and window must be at least 1 and tps not negative")
        concatenation = query.get("concat", "udh8")
        if concatenation not in ("udh8", "udh16", "sar", "payload"):
            raise ValueError("concat must be udh8, udh16, sar or payload")
        packed = query.get("packed", "false").lower() in ("1", "true", "yes")
        return cls(
            kind=parts.scheme,
            url=value,
            host=parts.hostname,
            port=parts.port or 2775,
            system_id=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            binds=binds,
            window=window,
            tps=tps,
            concatenation=concatenation,
            packed=packed,
            options={k: v for k, v in query.items() if k in _PASSED_THROUGH},
        )


# Names of the default route's connector (`Settings.default_connector`).
DEFAULT_CONNECTOR_NAMES = frozenset({"upstream", "simulator"})


def check_connector_table(name: str, table: dict[str, Any]) -> None:
    """The checks every connector definition passes, from the file (`[connectors.NAME]`) or
    the admin API: a name that is not the default route's, a `kind`, a `rate` >= 0. The
    connector's own options are checked by its factory (`ConnectorRegistry.build`)."""
    if name in DEFAULT_CONNECTOR_NAMES:
        raise ValueError(f"{name!r} is the default route's connector; choose another name")
    if not name or len(name) > 64 or not all(c.isalnum() or c in "-_." for c in name):
        raise ValueError(f"connector {name!r}: a name is 1-64 letters, digits, '-', '_' or '.'")
    if not isinstance(table.get("kind"), str) or not table["kind"]:
        raise ValueError(f"connector {name!r} needs a kind (smpp, http, ...)")
    rate = table.get("rate", 0)
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate < float("inf"):
        raise ValueError(f"connector {name!r}: rate must be a number >= 0")


def connector_options(table: dict[str, Any]) -> dict[str, Any]:
    """What a connector definition hands its factory: everything but `kind` and `rate`."""
    return {k: v for k, v in table.items() if k not in ("kind", "rate")}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="forbid")

    environment: Literal["development", "production"] = "development"
    node_id: str = Field(default="", description="unique per process; default host:http_port")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    database_url: str = "sqlite:///data/gateway.db"
    database_schema: str | None = None
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    redis_url: str | None = None
    redis_prefix: str = Field(default="gw:", description="namespace of this cluster's keys")

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    # Slowloris and flood guards of the REST API (seconds; 0 disables a limit): a request head
    # must arrive within http_head_timeout, its body within http_body_timeout after the head.
    http_head_timeout: float = Field(default=10.0, ge=0)
    http_body_timeout: float = Field(default=30.0, ge=0)
    http_max_body: int = Field(default=4 * 1024 * 1024, ge=0, description="octets")
    http_max_connections: int = Field(default=2000, ge=0)
    http_max_connections_per_address: int = Field(default=200, ge=0)
    smpp_host: str = "127.0.0.1"
    smpp_port: int = Field(default=2775, ge=0, le=65535)
    smpp_window: int = Field(default=100, ge=1, description="requests in progress per bind")
    smpp_packed: bool = Field(default=False, description="ESMEs send GSM 7-bit packed")
    smpp_tls_cert: str | None = Field(default=None, description="PEM file; enables TLS")
    smpp_tls_key: str | None = None
    # Slowloris guards of the SMPP server (seconds; 0 disables a timeout): bind within
    # bind_timeout of connecting, finish each PDU begun within pdu_timeout, read what we send
    # (write buffer over smpp_write_buffer_limit octets for write_stall_timeout: dropped).
    smpp_bind_timeout: float = Field(default=15.0, ge=0)
    smpp_pdu_timeout: float = Field(default=15.0, ge=0)
    smpp_write_stall_timeout: float = Field(default=30.0, ge=0)
    smpp_write_buffer_limit: int = Field(default=256 * 1024, ge=4096)
    smpp_max_connections: int = Field(default=1000, ge=1)
    smpp_max_connections_per_address: int = Field(default=50, ge=1)

    upstream: str = "simulator"
    # More carriers: `[connectors.NAME]` tables in the config file (or JSON in
    # GATEWAY_CONNECTORS), each with `kind` (an entry point of `gateway.connectors`), an optional
    # `rate` in segments/s for the whole connector (shared by every node through Redis), and the
    # connector's own options. `[[routes]]` send traffic to them; the rest goes to the upstream.
    connectors: dict[str, dict[str, Any]] = Field(default_factory=dict)
    routes: list[RouteRule] = Field(default_factory=list)
    default_price: float = Field(default=0.0, ge=0, description="per segment, default route")
    # Segments/s each account may send upstream, over all connectors and nodes (`[account_rates]`
    # in the config file: account name or id = rate). Accounts not named are not limited.
    account_rates: dict[str, float] = Field(default_factory=dict)
    # A connector failing this many submits in a row is taken out of rotation (its parts fail
    # over to the next connector of their route) and probed again after the open time.
    failover_after: int = Field(default=2, ge=1, description="attempts before failing over")
    circuit_failures: int = Field(default=5, ge=1)
    circuit_open_seconds: float = Field(default=30.0, gt=0)
    expiry_sweep_interval: float = Field(default=5.0, gt=0)
    # A submitted part whose delivery receipt has not come after this long is marked `expired`
    # (error_code `expired`): the carrier gave no verdict, and a late receipt cannot change a
    # final status. Only parts that asked the carrier for a receipt.
    receipt_timeout: float = Field(default=72 * 3600.0, gt=0, description="seconds")
    # A receipt for an upstream id no node has recorded (yet) is parked this long, then dropped
    # and counted: its submit response was lost, or the id belongs to nobody.
    receipt_park_ttl: float = Field(default=900.0, gt=0, description="seconds")
    simulator_host: str = "127.0.0.1"
    simulator_port: int = Field(default=2776, ge=0, le=65535)
    simulator_receipt_delay: float = Field(default=0.05, ge=0)
    simulator_delivered_ratio: float = Field(default=1.0, ge=0, le=1)

    demo_key: SecretStr | None = None
    # Guards /v1/admin/*. Unset: the admin API answers 401 to everyone (the CLI still works,
    # it talks to the store directly).
    admin_key: SecretStr | None = None
    demo_smpp_password: SecretStr | None = None

    dispatch_capacity: int = Field(default=20_000, ge=1, description="parts held in memory")
    intake_batch_max: int = Field(default=1000, ge=1)
    retry_base_delay: float = Field(default=2.0, gt=0)
    retry_max_delay: float = Field(default=300.0, gt=0)
    max_attempts: int = Field(default=8, ge=1)
    node_heartbeat_interval: float = Field(default=5.0, gt=0)
    node_heartbeat_ttl: float = Field(default=30.0, gt=0)
    shutdown_timeout: float = Field(default=15.0, ge=0)
    workers: int = Field(default=1, ge=1, le=64, description="gateway processes on this host")
    # shared: every worker on the same HTTP and SMPP ports (SO_REUSEPORT; the kernel balances).
    # distinct: worker i on http_port + i and smpp_port + i, as separate nodes behind a load
    # balancer would be (`make cluster`).
    worker_ports: Literal["shared", "distinct"] = "shared"
    # Set by the supervisor for its workers: listen with SO_REUSEPORT and leave the one-time
    # set-up (migrations, demo account) and the simulator to the supervisor.
    worker: bool = False
    # Set by the supervisor when it accepts SMPP connections itself and deals them out in turn
    # (shared ports, several workers): the channel they come on (`gateway.smpp_handoff`).
    smpp_handoff_fd: int | None = None
    # Admin changes (routes, accounts, keys) are picked up by every node within this interval.
    admin_refresh_interval: float = Field(default=2.0, gt=0, description="seconds")
    # A connector replaced or stopped through the admin API: how long its submits may take to
    # finish before those still waiting for a bind are handed back to the store, unsent.
    connector_drain_timeout: float = Field(default=30.0, gt=0, description="seconds")
    # Per-country sender ID rules (`[sender_rules]`); the defaults are in SenderRules.
    sender_rules: SenderRules = Field(default_factory=SenderRules)

    # Webhooks: loopback and private targets only when allowed (development, tests).
    webhook_allow_private: bool = False
    webhook_concurrency: int = Field(default=32, ge=1, description="streams in flight per node")
    webhook_timeout: float = Field(default=10.0, gt=0, description="seconds per POST")
    webhook_max_age: float = Field(default=72 * 3600.0, gt=0, description="retry for this long")
    webhook_retry_base: float = Field(default=1.0, gt=0)
    webhook_retry_cap: float = Field(default=600.0, gt=0)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if value.startswith("sqlite:///"):
            sqlite_path(value)  # raises for a URL that names no file
            return value
        if value.startswith(("postgresql://", "postgres://")):
            return value
        raise ValueError("expected sqlite:///path or postgresql://user@host:port/database")

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("expected redis://host:port/db")
        return value

    @field_validator("upstream")
    @classmethod
    def _upstream(cls, value: str) -> str:
        UpstreamConfig.parse(value)
        return value

    @field_validator("connectors")
    @classmethod
    def _connectors(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name, table in value.items():
            check_connector_table(name, table)
        return value

    @field_validator("account_rates")
    @classmethod
    def _account_rates(cls, value: dict[str, float]) -> dict[str, float]:
        if bad := sorted(k for k, rate in value.items() if not 0 < rate < float("inf")):
            raise ValueError(f"rates must be positive segments/s: {', '.join(bad)}")
        return value

    @model_validator(mode="after")
    def _production_needs_explicit_secrets(self) -> Settings:
        if self.environment == "production" and self.upstream == "simulator":
            raise ValueError("upstream: the simulator is for development; set GATEWAY_UPSTREAM")
        if (
            self.environment == "production"
            and self.admin_key is not None
            and len(self.admin_key.get_secret_value()) < 32
        ):
            raise ValueError("admin_key: use at least 32 random characters in production")
        if self.node_heartbeat_ttl <= self.node_heartbeat_interval * 2:
            raise ValueError("node_heartbeat_ttl must exceed twice node_heartbeat_interval")
        return self

    @property
    def upstream_config(self) -> UpstreamConfig:
        return UpstreamConfig.parse(self.upstream)

    @property
    def default_connector(self) -> str:
        return "simulator" if self.upstream == "simulator" else "upstream"

    @property
    def effective_node_id(self) -> str:
        # Stable across restarts of the same process slot, so a restarted node takes back its
        # own leases at once instead of waiting for its old heartbeat to go stale.
        return self.node_id or f"{socket.gethostname()}:{self.http_port}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("GATEWAY_CONFIG_FILE")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)


# Variables with the prefix that are read elsewhere, not settings.
_NOT_SETTINGS = {"GATEWAY_CONFIG_FILE", "GATEWAY_MIGRATIONS_DIR"}

# Settings that carry a secret (a key, a password, a URL with credentials in it) may instead
# be read from a file named by `GATEWAY_<NAME>_FILE`, as Docker and Kubernetes mount secrets,
# so they need not sit in the environment of the process (visible in /proc, `docker inspect`).
SECRET_FILE_SETTINGS = (
    "admin_key",
    "demo_key",
    "demo_smpp_password",
    "database_url",
    "redis_url",
    "upstream",
)


def _secrets_from_files(overrides: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name in SECRET_FILE_SETTINGS:
        file_var = f"GATEWAY_{name.upper()}_FILE"
        path = os.environ.get(file_var)
        if path is None or name in overrides:
            continue
        if f"GATEWAY_{name.upper()}" in os.environ:
            raise ConfigError(f"GATEWAY_{name.upper()} and {file_var} are both set; set one")
        try:
            # One trailing newline is what `echo` and most editors leave; nothing else is cut.
            found[name] = Path(path).read_text(encoding="utf-8").removesuffix("\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{file_var}: cannot read {path}: {type(exc).__name__}") from None
    return found


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, the config file and `overrides`; a bad value raises
    `ConfigError` with one line per problem naming the setting."""
    config_file = os.environ.get("GATEWAY_CONFIG_FILE")
    if config_file and not os.path.isfile(config_file):
        raise ConfigError(f"GATEWAY_CONFIG_FILE: no such file: {config_file}")
    # A misspelt variable would otherwise be ignored without a word, and the default used.
    known = {f"GATEWAY_{name.upper()}" for name in Settings.model_fields} | _NOT_SETTINGS
    known |= {f"GATEWAY_{name.upper()}_FILE" for name in SECRET_FILE_SETTINGS}
    unknown = sorted(k for k in os.environ if k.startswith("GATEWAY_") and k not in known)
    if unknown:
        raise ConfigError("\n".join(f"unknown setting {name}" for name in unknown))
    overrides = {**_secrets_from_files(overrides), **overrides}
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = "_".join(str(p) for p in error["loc"]) or "settings"
            setting = f"GATEWAY_{name.upper()}" if error["loc"] else "settings"
            message = str(error["msg"]).removeprefix("Value error, ")
            lines.append(f"invalid setting {setting}: {message}")
        raise ConfigError("\n".join(lines)) from None
    except Exception as exc:  # a malformed TOML file, mostly
        raise ConfigError(f"invalid configuration: {exc}") from None
