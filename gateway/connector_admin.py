"""Connector administration: the service behind `/v1/admin/connectors`.

Definitions are written to the store (their options checked by the connector's own factory, as
the configuration file's are); each write bumps the config version, and `on_change` (the node's
refresher) makes `ConnectorSet.reconcile` apply it here before the response, and on every other
node within its refresh interval.

Connectors of the configuration file and `GATEWAY_UPSTREAM` may be stopped and started (kept
as a row with `source = "config"`) but not changed or deleted: 409 `connector.config_managed`,
since the file would bring them back at the next start. A connector a route still names cannot
be deleted (409 `connector.in_use`): its traffic would go nowhere the operator chose.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from gateway.config import check_connector_table
from gateway.connector import BindHealth
from gateway.connector_set import ConnectorSet, ConnectorSpec
from gateway.domain import ConfigError
from gateway.domain.accounts import StoredConnector
from gateway.domain.errors import (
    ConnectorConfigManaged,
    ConnectorExists,
    ConnectorInUse,
    ConnectorInvalid,
    ConnectorNotFound,
)
from gateway.routing import RouteRule
from gateway.store import Store


@dataclass(frozen=True, slots=True)
class ConnectorView:
    """A connector as this node knows it: its definition and live state."""

    spec: ConnectorSpec
    default: bool
    running: bool
    binds: list[BindHealth]
    queue_depth: int
    breaker: str


class ConnectorAdmin:
    def __init__(
        self,
        *,
        store: Store,
        connectors: ConnectorSet,
        config_rules: Sequence[RouteRule] = (),
        on_change: Callable[[], Awaitable[None]] | None = None,
        queue_depths: Callable[[], Mapping[str, int]] = dict,
        breaker_states: Callable[[], Mapping[str, Any]] = dict,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._connectors = connectors
        self._config_rules = tuple(config_rules)
        self._on_change = on_change
        self._queue_depths = queue_depths
        self._breaker_states = breaker_states
        self._clock = clock

    async def _changed(self) -> None:
        if self._on_change is not None:
            await self._on_change()

    # -- reading ------------------------------------------------------------------------------

    def all(self) -> list[ConnectorView]:
        """The default route's connector first, then the rest by name."""
        names = sorted(self._connectors, key=lambda n: (n != self._connectors.default, n))
        return [self._view(n) for n in names]

    def get(self, name: str) -> ConnectorView:
        if name not in self._connectors:
            raise ConnectorNotFound(f"no connector {name!r}")
        return self._view(name)

    def _view(self, name: str) -> ConnectorView:
        spec = self._connectors.spec(name)
        assert spec is not None
        running = self._connectors.running(name)
        breaker = self._breaker_states().get(name)
        return ConnectorView(
            spec=spec,
            default=name == self._connectors.default,
            running=running,
            binds=self._connectors[name].health() if running else [],
            queue_depth=self._queue_depths().get(name, 0),
            breaker=getattr(breaker, "value", "closed"),
        )

    # -- writing ------------------------------------------------------------------------------

    async def create(
        self, name: str, *, kind: str, options: Mapping[str, Any], rate: float = 0.0
    ) -> ConnectorView:
        if name in self._connectors or self._connectors.config_spec(name) is not None:
            raise ConnectorExists(f"a connector named {name!r} exists")
        spec = self._check(ConnectorSpec(name=name, kind=kind, options=dict(options), rate=rate))
        now = self._clock()
        await self._store.insert_connector(_row(spec, enabled=True, created=now, updated=now))
        await self._changed()
        return self._view_after(name)

    async def update(
        self, name: str, *, options: Mapping[str, Any] | None = None, rate: float | None = None
    ) -> ConnectorView:
        """Change options (merged: a key set to null is removed, secrets not sent are kept)
        and the rate; the connector is replaced on every node."""
        stored = await self._stored(name)
        merged = json.loads(stored.options)
        for key, value in (options or {}).items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        spec = self._check(
            ConnectorSpec(
                name=name,
                kind=stored.kind,
                options=merged,
                rate=stored.rate if rate is None else rate,
            )
        )
        row = _row(spec, enabled=stored.enabled, created=stored.created_at, updated=self._clock())
        await self._store.put_connector(row)
        await self._changed()
        return self._view_after(name)

    async def delete(self, name: str) -> None:
        await self._stored(name)
        if users := await self._routes_naming(name):
            raise ConnectorInUse(
                f"route(s) {', '.join(users)} send to {name!r}: change or delete them first"
            )
        if not await self._store.delete_connector(name):
            raise ConnectorNotFound(f"no connector {name!r}")
        await self._changed()

    async def set_enabled(self, name: str, enabled: bool) -> ConnectorView:
        """Stop (no new traffic; its parts fail over or wait) or start a connector, on every
        node. Allowed for configured connectors too."""
        now = self._clock()
        config = self._connectors.config_spec(name)
        if config is not None:
            current = await self._store.get_stored_connector(name)
            row = StoredConnector(
                name=name,
                source="config",
                kind=config.kind,
                options="{}",
                rate=0.0,
                enabled=enabled,
                created_at=current.created_at if current is not None else now,
                updated_at=now,
            )
        else:
            stored = await self._stored(name)
            row = dataclasses.replace(stored, enabled=enabled, updated_at=now)
        await self._store.put_connector(row)
        await self._changed()
        return self._view_after(name)

    # -- helpers ------------------------------------------------------------------------------

    async def _stored(self, name: str) -> StoredConnector:
        """The stored definition of an API-made connector."""
        if self._connectors.config_spec(name) is not None:
            raise ConnectorConfigManaged(
                f"connector {name!r} is defined in the configuration: change it there "
                "(it may be stopped and started here)"
            )
        stored = await self._store.get_stored_connector(name)
        if stored is None or stored.source != "admin":
            raise ConnectorNotFound(f"no connector {name!r}")
        return stored

    def _check(self, spec: ConnectorSpec) -> ConnectorSpec:
        """The checks of the configuration path: the table's, then the factory's (building a
        connector does no I/O; it is dropped unstarted)."""
        if not (isinstance(spec.rate, int | float) and math.isfinite(spec.rate)):
            raise ConnectorInvalid(f"connector {spec.name!r}: rate must be a number >= 0")
        try:
            check_connector_table(spec.name, {"kind": spec.kind, "rate": spec.rate})
            self._connectors.build(spec)
        except (ValueError, ConfigError) as exc:
            detail = exc.detail if isinstance(exc, ConfigError) else str(exc)
            raise ConnectorInvalid(detail) from None
        return spec

    async def _routes_naming(self, name: str) -> list[str]:
        names = []
        for stored in await self._store.list_stored_routes():
            try:
                rule = RouteRule.model_validate_json(stored.rule)
            except ValidationError:
                continue
            if name in rule.connectors:
                names.append(stored.name)
        names += [
            r.name or f"config#{i}"
            for i, r in enumerate(self._config_rules)
            if name in r.connectors
        ]
        return names

    def _view_after(self, name: str) -> ConnectorView:
        if name not in self._connectors:  # could not be built or started here (logged)
            raise ConnectorNotFound(f"connector {name!r} is stored but not running on this node")
        return self._view(name)


def _row(spec: ConnectorSpec, *, enabled: bool, created: float, updated: float) -> StoredConnector:
    return StoredConnector(
        name=spec.name,
        source="admin",
        kind=spec.kind,
        options=json.dumps(dict(spec.options), separators=(",", ":"), sort_keys=True),
        rate=float(spec.rate),
        enabled=enabled,
        created_at=created,
        updated_at=updated,
    )
