"""The connectors a node runs: the one owner that builds, starts, replaces and stops them.

Connectors come from the configuration (`GATEWAY_UPSTREAM`, `[connectors.NAME]`) and from the
store (`/v1/admin/connectors`). At start the set builds them all; after that `reconcile` is
called with the stored rows whenever the config version moves (`gateway/admin_refresh.py`), on
every node, and brings the running connectors in line:

- a new connector is built (its options checked by its factory, the same check the file's
  connectors get), started, then announced;
- a changed one (options, rate) is replaced: the new one is built and started first, the
  listeners move to it (the dispatcher lets the old one's workers finish the part each holds,
  awaiting its response), and only then is the old one stopped: nothing in flight is lost or
  sent twice;
- a stopped one (`enabled` false) is stopped the same way and stays known, with no connector
  running: routing fails over from it as when its binds are down;
- a removed one is announced gone, then stopped.

Listeners (`ConnectorListener`: dispatch, receipts, metrics) learn every change through one
call; the rest (intake's concatenation, routes, the API) read the set itself, which is a live
`Mapping` of name -> connector (stopped ones included, not started).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from gateway.connector import Connector, ConnectorEvents, ConnectorRegistry
from gateway.domain import ConfigError
from gateway.domain.accounts import StoredConnector
from gateway.text import Concatenation

log = logging.getLogger(__name__)

# Option names whose values are secrets: write-only through the API, never logged. Matched on
# the name lower-cased, at any depth (HTTP `headers`, `callback`, ...).
_SECRET_NAMES = frozenset(
    {"password", "secret", "signature_secret", "token", "api_key", "apikey", "authorization"}
)
_SECRET_SUFFIXES = ("_password", "_secret", "_token", "_key")


def is_secret(option: str) -> bool:
    name = option.lower()
    return name in _SECRET_NAMES or name.endswith(_SECRET_SUFFIXES)


def redact(options: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Options without their secrets, and the dotted names of the secrets left out."""
    public: dict[str, Any] = {}
    secrets: list[str] = []
    for key, value in options.items():
        if is_secret(key):
            secrets.append(key)
        elif isinstance(value, Mapping):
            inner, hidden = redact(value)
            public[key] = inner
            secrets += [f"{key}.{h}" for h in hidden]
        else:
            public[key] = value
    return public, secrets


@dataclass(frozen=True)
class ConnectorSpec:
    """What a connector is made from."""

    name: str
    kind: str
    options: Mapping[str, Any] = field(default_factory=dict)  # secrets included
    rate: float = 0.0  # segments/s for the whole connector, every node; 0: none
    source: Literal["config", "admin"] = "config"
    enabled: bool = True
    created_at: float | None = None
    updated_at: float | None = None

    def same_connector(self, other: ConnectorSpec) -> bool:
        """Whether `other` runs the same connector (timestamps aside)."""
        return (self.kind, dict(self.options), self.rate, self.enabled) == (
            other.kind,
            dict(other.options),
            other.rate,
            other.enabled,
        )


class ConnectorListener(Protocol):
    async def connector_changed(
        self, name: str, connector: Connector | None, spec: ConnectorSpec | None
    ) -> None:
        """`name` now runs `connector` (None: stopped), or was removed (`spec` None). The one
        it ran before is stopped once every listener has returned: stop using it first."""
        ...


class _Concatenations(Mapping[str, Concatenation]):
    """How each connector wants long texts cut (intake reads it per message)."""

    def __init__(self, connectors: Mapping[str, Connector]) -> None:
        self._connectors = connectors

    def __getitem__(self, name: str) -> Concatenation:
        connector = self._connectors[name]
        return Concatenation(getattr(connector, "concatenation", Concatenation.UDH8))

    def __iter__(self) -> Iterator[str]:
        return iter(self._connectors)

    def __len__(self) -> int:
        return len(self._connectors)


class ConnectorSet(Mapping[str, Connector]):
    def __init__(
        self, *, registry: ConnectorRegistry, config: Sequence[ConnectorSpec], default: str
    ) -> None:
        self._registry = registry
        self._config = {s.name: s for s in config}
        self.default = default
        self._specs: dict[str, ConnectorSpec] = {}
        self._connectors: dict[str, Connector] = {}  # built; started when enabled
        self._running: set[str] = set()
        self._listeners: list[ConnectorListener] = []
        self._events: ConnectorEvents | None = None
        self._lock = asyncio.Lock()
        self.concatenations: Mapping[str, Concatenation] = _Concatenations(self._connectors)

    # -- Mapping: every known connector, stopped ones included --------------------------------

    def __getitem__(self, name: str) -> Connector:
        return self._connectors[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._connectors)

    def __len__(self) -> int:
        return len(self._connectors)

    # -- what the set knows -------------------------------------------------------------------

    def spec(self, name: str) -> ConnectorSpec | None:
        return self._specs.get(name)

    def config_spec(self, name: str) -> ConnectorSpec | None:
        return self._config.get(name)

    def running(self, name: str) -> bool:
        return name in self._running

    def dispatch_targets(self) -> dict[str, Connector | None]:
        """Per connector, the one to send through (None: stopped), for the dispatcher, built
        before `start` starts them."""
        return {n: c if self._specs[n].enabled else None for n, c in self._connectors.items()}

    def rates(self) -> dict[str, float]:
        return {n: s.rate for n, s in self._specs.items()}

    def subscribe(self, listener: ConnectorListener) -> None:
        self._listeners.append(listener)

    def build(self, spec: ConnectorSpec) -> Connector:
        """The connector of `spec`, not started; `ConfigError` naming it for a bad kind or
        options (the same check as the configuration file's connectors)."""
        return self._registry.build(spec.kind, name=spec.name, options=spec.options)

    def desired(self, rows: Sequence[StoredConnector]) -> list[ConnectorSpec]:
        """The configuration's connectors (stopped or started as the store says) and the stored
        ones, config first."""
        stored = {r.name: r for r in rows}
        specs = []
        for name, spec in self._config.items():
            row = stored.pop(name, None)
            enabled = row.enabled if row is not None else True
            specs.append(
                ConnectorSpec(
                    name=name,
                    kind=spec.kind,
                    options=spec.options,
                    rate=spec.rate,
                    source="config",
                    enabled=enabled,
                    updated_at=row.updated_at if row is not None else None,
                )
            )
        for row in stored.values():
            if row.source != "admin":
                continue  # a stop of a configuration connector no longer configured
            try:
                options = json.loads(row.options)
            except ValueError:
                log.error("stored connector %r has unreadable options; ignored", row.name)
                continue
            specs.append(
                ConnectorSpec(
                    name=row.name,
                    kind=row.kind,
                    options=options,
                    rate=row.rate,
                    source="admin",
                    enabled=row.enabled,
                    created_at=row.created_at,
                    updated_at=row.updated_at,
                )
            )
        return specs

    # -- lifecycle ----------------------------------------------------------------------------

    def load(self, rows: Sequence[StoredConnector]) -> None:
        """Build (not start) every connector: a bad configured one stops start-up, a bad stored
        one is left out with an error logged (the API checked it when it was written)."""
        for spec in self.desired(rows):
            try:
                connector = self.build(spec)
            except ConfigError:
                if spec.source == "config":
                    raise
                log.error("stored connector %r cannot be built; left out", spec.name)
                continue
            self._connectors[spec.name] = connector
            self._specs[spec.name] = spec

    async def start(self, events: ConnectorEvents) -> None:
        self._events = events
        for name, connector in self._connectors.items():
            if self._specs[name].enabled:
                await connector.start(events)
                self._running.add(name)

    async def stop(self) -> None:
        async with self._lock:
            self._events = None  # no reconcile from now on
            for name in list(self._running):
                with contextlib.suppress(Exception):
                    await self._connectors[name].stop()
            self._running.clear()

    async def reconcile(self, rows: Sequence[StoredConnector]) -> list[str]:
        """Bring the running connectors in line with the configuration and `rows`; returns the
        names that changed. A connector that cannot be built or started keeps its old state
        (logged); the others go ahead."""
        changed: list[str] = []
        async with self._lock:
            if self._events is None:
                return changed  # not started (or stopping): start() reads the store itself
            desired = {s.name: s for s in self.desired(rows)}
            for name in [n for n in self._specs if n not in desired]:
                await self._remove(name)
                changed.append(name)
            for spec in desired.values():
                current = self._specs.get(spec.name)
                if current is not None and current.same_connector(spec):
                    self._specs[spec.name] = spec  # timestamps
                    continue
                if await self._put(spec, self._events):
                    changed.append(spec.name)
        return changed

    async def _put(self, spec: ConnectorSpec, events: ConnectorEvents) -> bool:
        name = spec.name
        try:
            connector = self.build(spec)
            if spec.enabled:
                await connector.start(events)
        except Exception as exc:
            # ConfigError names the connector and the option; never the option values.
            detail = str(exc) if isinstance(exc, ConfigError) else type(exc).__name__
            log.error("connector %r not changed: %s", name, detail)
            return False
        old = self._connectors.get(name)
        was_running = name in self._running
        self._connectors[name] = connector
        self._specs[name] = spec
        if spec.enabled:
            self._running.add(name)
        else:
            self._running.discard(name)
        await self._notify(name, connector if spec.enabled else None, spec)
        if old is not None and was_running:
            await _close(name, old)
        verb = "stopped" if not spec.enabled else "replaced" if old is not None else "added"
        log.info("connector %s %s (%s)", name, verb, spec.kind)
        return True

    async def _remove(self, name: str) -> None:
        old = self._connectors.pop(name)
        self._specs.pop(name)
        was_running = name in self._running
        self._running.discard(name)
        await self._notify(name, None, None)
        if was_running:
            await _close(name, old)
        log.info("connector %s removed", name)

    async def _notify(
        self, name: str, connector: Connector | None, spec: ConnectorSpec | None
    ) -> None:
        for listener in self._listeners:
            try:
                await listener.connector_changed(name, connector, spec)
            except Exception:
                log.exception("a listener failed to take the change of connector %s", name)


async def _close(name: str, connector: Connector) -> None:
    try:
        await connector.stop()
    except Exception as exc:
        log.warning("connector %s did not stop cleanly: %s", name, type(exc).__name__)
