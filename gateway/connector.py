"""The interface between dispatch and an upstream carrier.

A connector sends parts and reports back: the carrier's id (or its error) for each submit, then
delivery receipts and inbound messages as they arrive. Connectors are found through the
`gateway.connectors` entry-point group, so a third-party package can ship one; the composition
root builds them from configuration and nothing in `gateway` imports `connectors` by name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

from gateway.domain import ConfigError, InboundPart, PartRecord, Status, UpstreamError
from gateway.slots import slot_init

ENTRY_POINT_GROUP = "gateway.connectors"


@slot_init
@dataclass(frozen=True, slots=True)
class SubmitOutcome:
    """What the carrier said about one part: its id for the part, or an error."""

    upstream_id: str | None = None
    error: UpstreamError | None = None


@slot_init
@dataclass(frozen=True, slots=True)
class UpstreamReceipt:
    """A delivery report, already normalised to our lifecycle."""

    upstream_id: str
    status: Status  # SUBMITTED for intermediate states (ENROUTE, ACCEPTD), else terminal
    raw_state: str
    error_code: str | None = None


@dataclass(frozen=True, slots=True)
class BindHealth:
    name: str
    state: str  # "bound", "connecting", "down"
    in_flight: int = 0
    detail: str = ""
    reconnects: int = 0  # since the connector started: the gateway turns it into a counter


class ConnectorEvents(Protocol):
    """Where a connector reports what arrives from the carrier. A connector acknowledges a
    receipt or an MO to the carrier only after the awaited call returns, which is after the
    gateway has committed it."""

    async def receipts_received(
        self, connector: str, receipts: Sequence[UpstreamReceipt]
    ) -> None: ...
    async def inbound_received(self, connector: str, parts: Sequence[InboundPart]) -> None:
        """MO parts as they arrive; the gateway joins them (durably) into messages."""
        ...


class Connector(Protocol):
    name: str

    @property
    def capacity(self) -> int:
        """How many submits may be in flight at once (binds x window)."""
        ...

    async def start(self, events: ConnectorEvents) -> None: ...
    async def stop(self) -> None:
        """Stop taking parts, wait for in-flight responses (bounded), unbind, close."""
        ...

    async def submit(self, part: PartRecord) -> SubmitOutcome:
        """Send one part; return once the carrier answered, or with a temporary error."""
        ...

    def health(self) -> list[BindHealth]: ...


@dataclass(frozen=True, slots=True)
class CallbackRequest:
    """A carrier's HTTP request to `/v1/callbacks/{connector}[/{path}]`, framework-free.

    Header names are lower case; `query` keeps the first value of a repeated parameter; `body`
    is the raw bytes (already bounded in size by the API), so a signature over them can be
    checked before anything is parsed."""

    method: str
    path: str  # what follows `/v1/callbacks/{connector}/`, "" for none
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class CallbackResponse:
    """What to answer the carrier once its report is committed."""

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    media_type: str = "text/plain"


class CallbackRejected(Exception):  # noqa: N818 - a refusal, answered, not a failure of ours
    """A callback the connector refuses: the API answers `status` with a problem+json body
    carrying `code` (`callback.unauthorized`, `callback.malformed`, ...) and `detail`."""

    def __init__(self, detail: str, *, status: int, code: str, title: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.code = code
        self.title = title


@runtime_checkable
class CallbackConnector(Protocol):
    """A connector whose carrier reports receipts and MOs by calling us over HTTP.

    `handle_callback` authenticates the request (a shared secret or a signature: the route has
    no bearer key), parses it, hands what it carries to `ConnectorEvents` and returns only after
    that call returned, i.e. after the commit: the carrier's retry covers anything before it.
    It raises `CallbackRejected` for a request it refuses (bad secret, malformed body, not
    started) and never lets a parse error escape as anything else."""

    name: str

    async def handle_callback(self, request: CallbackRequest) -> CallbackResponse: ...


class ConnectorFactory(Protocol):
    def __call__(self, *, name: str, options: Mapping[str, Any]) -> Connector: ...


@dataclass
class ConnectorRegistry:
    """Connector factories by name, from the entry-point group (and tests' additions)."""

    factories: dict[str, ConnectorFactory] = field(default_factory=dict)

    @classmethod
    def discover(cls) -> ConnectorRegistry:
        registry = cls()
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            registry.factories[entry.name] = entry.load()
        return registry

    def build(self, kind: str, *, name: str, options: Mapping[str, Any]) -> Connector:
        """The connector `name` of kind `kind`; `ConfigError` (one line naming the connector,
        start-up stops) for an unknown kind or options its factory refuses."""
        try:
            factory = self.factories[kind]
        except KeyError:
            known = ", ".join(sorted(self.factories)) or "none"
            raise ConfigError(
                f"connector {name!r}: no connector kind {kind!r} (installed: {known})"
            ) from None
        try:
            return factory(name=name, options=options)
        except (ValueError, TypeError, KeyError) as exc:
            # A missing option is a KeyError naming it; the rest say what is wrong themselves.
            detail = f"missing option {exc}" if isinstance(exc, KeyError) else str(exc)
            raise ConfigError(f"connector {name!r}: {detail}") from None
