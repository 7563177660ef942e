"""Admin changes reach every node without a restart.

Every admin write bumps one `config_version` row in its own transaction. Each node reads that
number every `interval` seconds (one tiny query); when it moved, the node reloads the stored
connectors (`ConnectorSet.reconcile`: started, replaced, stopped, removed), the stored
routes and the account settings, and forgets its API-key cache so a revoked key or a suspended
account stops working at once. Usage counters for quotas and spend caps are reloaded at every
tick whatever the version, since other nodes' traffic moves them. A change is therefore in force
everywhere within one interval, and on the node that made it immediately.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence

from pydantic import ValidationError

from gateway.account_policy import AccountPolicy
from gateway.connector_set import ConnectorSet
from gateway.keys import KeyAuthenticator
from gateway.routing import Router, RouteRule
from gateway.store import Store

log = logging.getLogger(__name__)


def stored_rules(rules: Iterable[tuple[str, str]], known: Iterable[str]) -> list[RouteRule]:
    """Parse stored `(name, json)` rules, leaving out (with a warning) any this node cannot use:
    one naming a connector it does not have must not take its traffic."""
    connectors = set(known)
    out = []
    for name, text in rules:
        try:
            rule = RouteRule.model_validate_json(text)
        except ValidationError as exc:
            log.warning("stored route %r is invalid and ignored: %s", name, exc)
            continue
        if missing := set(rule.connectors) - connectors:
            log.warning(
                "stored route %r names connector(s) %s unknown here; ignored",
                name,
                ", ".join(sorted(missing)),
            )
            continue
        out.append(rule)
    return out


class AdminRefresher:
    def __init__(
        self,
        *,
        store: Store,
        router: Router,
        config_rules: Sequence[RouteRule],
        connectors: Collection[str],
        policy: AccountPolicy,
        connector_set: ConnectorSet | None = None,
        keys: KeyAuthenticator | None = None,
        interval: float = 2.0,
    ) -> None:
        self._store = store
        self._router = router
        self._config_rules = tuple(config_rules)
        # Read at every reload: connectors change at run time (`connector_set`).
        self._connectors = connectors
        self._connector_set = connector_set
        self._policy = policy
        self._keys = keys
        self._interval = interval
        self._version: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._on_change: list[Callable[[], Awaitable[None]]] = []

    @property
    def version(self) -> int | None:
        """The config version this node runs with."""
        return self._version

    def on_change(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Call `callback` after each reload caused by a new config version (e.g. to close
        SMPP binds whose credentials were revoked)."""
        self._on_change.append(callback)

    async def refresh(self) -> None:
        """Reload what changed since the last call; usage counters always."""
        async with self._lock:
            version = await self._store.config_version()
            if version != self._version:
                await self._reload()
                self._version = version
                for callback in self._on_change:
                    await callback()
            await self._policy.refresh_usage()

    async def _reload(self) -> None:
        # Connectors first: a route naming one just added is then taken, not ignored.
        if self._connector_set is not None:
            await self._connector_set.reconcile(await self._store.list_stored_connectors())
        stored = await self._store.list_stored_routes()
        accounts = await self._store.list_account_settings()
        rules = stored_rules(((r.name, r.rule) for r in stored), self._connectors)
        # Rules made through the admin API come first: they are the later, deliberate word.
        self._router.update(
            rules=[*rules, *self._config_rules],
            account_names={a.id: a.name for a in accounts},
        )
        self._policy.set_accounts(accounts)
        if self._keys is not None:
            self._keys.forget()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="admin-refresh")

    async def _run(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.refresh()
            except Exception as exc:  # the store is down: keep the settings we have
                if not failing:  # once per outage, not every interval
                    log.warning("admin settings refresh failed: %s", type(exc).__name__)
                failing = True
            else:
                failing = False

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
