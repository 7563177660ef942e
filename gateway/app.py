"""The composition root: builds every object from `Settings` and owns the lifespan.

Start order: store (migrated) -> simulator (when it is the upstream) -> connectors -> status,
receipts, dispatch, intake -> HTTP. Connectors then change at run time through
`ConnectorSet` (gateway/connector_set.py), which tells dispatch, receipts and the gauges.
Stop order is the reverse, each step bounded: stop taking requests, finish what was
acknowledged, hand leases back, close connectors and the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
import socket
import ssl
import time
from collections import Counter
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from gateway.account_policy import AccountPolicy
from gateway.accounts import AccountAdmin
from gateway.admin_refresh import AdminRefresher
from gateway.api import ApiServices, create_api
from gateway.api.connection_guard import ConnectionGuard, HttpLimits, guarded_protocol
from gateway.batches import Batches
from gateway.cancellation import Cancellation
from gateway.circuit import BreakerState, CircuitBreaker
from gateway.config import Settings, connector_options
from gateway.connector import (
    Connector,
    ConnectorRegistry,
    UpstreamReceipt,
)
from gateway.connector_admin import ConnectorAdmin
from gateway.connector_set import ConnectorSet, ConnectorSpec
from gateway.demo_account import ensure_demo_account, ensure_demo_smpp
from gateway.dispatch import Dispatcher, RetryPolicy
from gateway.domain import Account, InboundPart
from gateway.domain.accounts import usage_shard
from gateway.domain.ids import id_timestamp
from gateway.idempotency import Idempotency
from gateway.inbound import InboundService
from gateway.intake import Intake
from gateway.keys import KeyAuthenticator, key_digest
from gateway.keyword_replies import KeywordResponder
from gateway.metrics import Metrics
from gateway.pacing import resolve_account_rates
from gateway.ratelimit import RateLimiter, open_rate_limiter
from gateway.ratelimit.admission import Admission, open_admission
from gateway.receipts import ReceiptCorrelator
from gateway.routing import Router, RouteRule
from gateway.scrape_gauges import ScrapeGauges
from gateway.simulator import Simulator, SimulatorConfig
from gateway.smpp_server.server import SmppServer, SmppServerSettings
from gateway.status import StatusWriter
from gateway.store import Store, open_store
from gateway.suppression import OptOutPolicies
from gateway.webhooks import WebhookDelivery

log = logging.getLogger(__name__)


class UpstreamEvents:
    """What connectors report, routed to the services that handle it."""

    def __init__(self, receipts: ReceiptCorrelator, inbound: InboundService) -> None:
        self._receipts = receipts
        self._inbound = inbound

    async def receipts_received(self, connector: str, receipts: Sequence[UpstreamReceipt]) -> None:
        await self._receipts.receipts_received(connector, receipts)

    async def inbound_received(self, connector: str, parts: Sequence[InboundPart]) -> None:
        await self._inbound.parts_received(parts)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the gateway orders shutdown itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@dataclass
class Gateway:
    settings: Settings
    metrics: Metrics = field(default_factory=Metrics)
    registry: ConnectorRegistry = field(default_factory=ConnectorRegistry.discover)
    store: Store | None = None
    simulator: Simulator | None = None
    connectors: ConnectorSet | None = None
    limiter: RateLimiter | None = None
    dispatcher: Dispatcher | None = None
    receipts: ReceiptCorrelator | None = None
    inbound: InboundService | None = None
    status: StatusWriter | None = None
    intake: Intake | None = None
    demo_key: str | None = None
    demo_smpp_password: str | None = None
    smpp_server: SmppServer | None = None
    idempotency: Idempotency | None = None
    webhooks: WebhookDelivery | None = None
    scrape_gauges: ScrapeGauges | None = None
    http: _Server | None = None
    refresher: AdminRefresher | None = None
    admission: Admission | None = None
    draining: bool = False
    _http_task: asyncio.Task[None] | None = None
    _stopped: bool = False
    _reconnects_seen: dict[str, int] = field(default_factory=dict)
    optout: OptOutPolicies | None = None
    # Wall clock of intake, dispatch and the SMPP server (send_at, quiet hours, due parts);
    # tests inject one.
    clock: Callable[[], float] = time.time

    async def start(self) -> None:
        s = self.settings
        node_id = s.effective_node_id
        self.store = store = open_store(
            s.database_url,
            schema=s.database_schema,
            sqlite_synchronous=s.sqlite_synchronous,
            usage_shard=usage_shard(node_id),
        )
        await store.open()
        applied = await store.migrate()
        if applied:
            log.info("applied migrations %s", applied)
        for warning in await store.maintenance_warnings():
            log.warning("%s", warning)
        if s.environment == "development" or s.demo_key is not None:
            self.demo_key = await ensure_demo_account(store, s.demo_key)
            self.demo_smpp_password = await ensure_demo_smpp(store, s.demo_smpp_password)

        connectors = await self._build_connectors(store)
        name = s.default_connector
        router = Router(
            default=name,
            rules=s.routes,
            default_price=s.default_price,
            account_names=await _account_names(store, s.routes),
        )
        router.check(connectors)
        self.admission = open_admission(
            s.redis_url, expected_nodes=s.workers, prefix=s.redis_prefix
        )
        policy = AccountPolicy(store=store, admission=self.admission, sender_rules=s.sender_rules)
        keys = KeyAuthenticator(store=store)
        self.refresher = refresher = AdminRefresher(
            store=store,
            router=router,
            config_rules=s.routes,
            connectors=connectors,
            connector_set=connectors,
            policy=policy,
            keys=keys,
            interval=s.admin_refresh_interval,
        )
        await refresher.refresh()  # stored routes and account settings from the start

        self.status = StatusWriter(store=store)
        self.optout = OptOutPolicies(store=store)
        self.status.subscribe(self._count_changes)
        self.receipts = ReceiptCorrelator(
            store=store, status=self.status, metrics=self.metrics, park_ttl=s.receipt_park_ttl
        )
        for connector_name, connector in connectors.items():
            # A carrier that sends a receipt for the last part of a long message only.
            if getattr(connector, "receipts_for", "all") == "last":
                self.receipts.cover_earlier_parts(connector_name)
        self.inbound = InboundService(
            store=store, metrics=self.metrics, on_stored=lambda _: self._wake_smpp_delivery()
        )
        self.dispatcher = Dispatcher(
            store=store,
            status=self.status,
            receipts=self.receipts,
            metrics=self.metrics,
            connectors=connectors.dispatch_targets(),
            default_connector=name,
            node_id=node_id,
            capacity=s.dispatch_capacity,
            retry=RetryPolicy(
                base=s.retry_base_delay,
                cap=s.retry_max_delay,
                max_attempts=s.max_attempts,
                failover_after=s.failover_after,
            ),
            router=router,
            rates=connectors.rates(),
            limiter=self.limiter,
            breaker_factory=lambda: CircuitBreaker(
                failures=s.circuit_failures, open_for=s.circuit_open_seconds
            ),
            account_rates=await resolve_account_rates(store, s.account_rates),
            heartbeat_interval=s.node_heartbeat_interval,
            heartbeat_ttl=s.node_heartbeat_ttl,
            expiry_interval=s.expiry_sweep_interval,
            receipt_timeout=s.receipt_timeout,
            drain_timeout=s.connector_drain_timeout,
            clock=self.clock,
        )
        self.intake = Intake(
            concatenation=connectors.concatenations,
            store=store,
            dispatcher=self.dispatcher,
            router=router,
            metrics=self.metrics,
            node_id=node_id,
            max_batch=s.intake_batch_max,
            clock=self.clock,
            optout=self.optout,
            policy=policy,
        )
        self.inbound.respond = KeywordResponder(intake=self.intake, policies=self.optout).respond
        await connectors.start(UpstreamEvents(self.receipts, self.inbound))
        # Changes from here on (the admin API, on this node or another) reach these.
        connectors.subscribe(self.dispatcher)
        connectors.subscribe(self.receipts)
        connectors.subscribe(self)
        # A connector stored by another node since `load` (the refresher recorded the version
        # that covers it already): catch up once.
        await connectors.reconcile(await store.list_stored_connectors())
        self.receipts.start()
        self.inbound.start()
        await self.dispatcher.start()
        self.smpp_server = SmppServer(
            settings=SmppServerSettings(
                host=s.smpp_host,
                port=s.smpp_port,
                window=s.smpp_window,
                tls=_tls_context(s),
                reuse_port=s.worker,
                handoff_fd=s.smpp_handoff_fd,
                bind_timeout=s.smpp_bind_timeout or None,
                pdu_timeout=s.smpp_pdu_timeout or None,
                write_stall_timeout=s.smpp_write_stall_timeout or None,
                write_buffer_limit=s.smpp_write_buffer_limit,
                max_connections=s.smpp_max_connections,
                max_connections_per_address=s.smpp_max_connections_per_address,
            ),
            store=store,
            intake=self.intake,
            status=self.status,
            dispatcher=self.dispatcher,
            metrics=self.metrics,
            node_id=node_id,
            packed=s.smpp_packed,
            clock=self.clock,
        )
        await self.smpp_server.start()
        refresher.on_change(self.smpp_server.revalidate_binds)
        self.metrics.before_render(self._refresh_gauges)
        self.idempotency = Idempotency(store=store)
        self.idempotency.start()
        self.webhooks = self._build_webhooks(store, node_id)
        refresher.start()

        self.scrape_gauges = ScrapeGauges(
            metrics=self.metrics, store=store, readiness=self.readiness
        )
        api = create_api(
            ApiServices(
                store=store,
                intake=self.intake,
                keys=keys,
                metrics=self.metrics,
                readiness=self.readiness,
                connectors=connectors,
                optout=self.optout,
                admin_key_hash=(
                    key_digest(s.admin_key.get_secret_value()) if s.admin_key is not None else None
                ),
                batches=Batches(intake=self.intake, clock=time.time),
                idempotency=self.idempotency,
                cancellation=Cancellation(
                    store=store, dispatcher=self.dispatcher, status=self.status
                ),
                webhooks=self.webhooks,
                webhook_allow_private=s.webhook_allow_private,
                admin=AccountAdmin(
                    store=store,
                    connectors=connectors,
                    config_rules=s.routes,
                    on_change=refresher.refresh,
                ),
                connector_admin=ConnectorAdmin(
                    store=store,
                    connectors=connectors,
                    config_rules=s.routes,
                    on_change=refresher.refresh,
                    queue_depths=self.dispatcher.queue_depths,
                    breaker_states=self.dispatcher.breaker_states,
                ),
                scrape_gauges=self.scrape_gauges,
            )
        )
        guard = ConnectionGuard(
            HttpLimits(
                head_timeout=s.http_head_timeout or None,
                body_timeout=s.http_body_timeout or None,
                max_body=s.http_max_body or None,
                max_connections=s.http_max_connections or None,
                max_connections_per_address=s.http_max_connections_per_address or None,
            )
        )
        guard.on_refused = lambda reason: self.metrics.http_refused.labels(reason=reason).inc()
        self.metrics.http_connections.set_function(lambda: guard.open)
        loop = asyncio.get_running_loop()
        self.metrics.asyncio_tasks.set_function(lambda: len(asyncio.all_tasks(loop)))
        self.http_guard = guard
        config = uvicorn.Config(
            api,
            http=guarded_protocol(guard),
            host=s.http_host,
            port=s.http_port,
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=5,
        )
        self.http = _Server(config)
        sockets = [_reuse_port_socket(s.http_host, s.http_port)] if s.worker else None
        self._http_task = asyncio.create_task(self.http.serve(sockets=sockets), name="http")
        while not self.http.started:
            if self._http_task.done():
                await self._http_task  # raises the bind error
                raise RuntimeError("HTTP server stopped during start-up")
            await asyncio.sleep(0.01)

    async def _build_connectors(self, store: Store) -> ConnectorSet:
        """The default route's connector (the simulator, started here, or `GATEWAY_UPSTREAM`),
        every configured one and every one stored through the admin API, built, not started."""
        s = self.settings
        upstream = s.upstream_config
        if upstream.kind == "simulator":
            password = secrets.token_urlsafe(12)[:8]  # SMPP 3.4 passwords are at most 8 octets
            self.simulator = Simulator(
                SimulatorConfig(
                    host=s.simulator_host,
                    port=s.simulator_port,
                    system_id="gateway",
                    password=password,
                    receipt_delay=s.simulator_receipt_delay,
                    delivered_ratio=s.simulator_delivered_ratio,
                )
            )
            await self.simulator.start()
            kind = "smpp"
            options: dict[str, Any] = {
                "host": s.simulator_host,
                "port": self.simulator.port,
                "system_id": "gateway",
                "password": password,
                "binds": 1,
                "window": 50,
            }
            rate = 0.0
        else:
            kind = upstream.kind
            options = {
                "concatenation": upstream.concatenation,
                "packed": upstream.packed,
                "host": upstream.host,
                "port": upstream.port,
                "system_id": upstream.system_id,
                "password": upstream.password,
                "binds": upstream.binds,
                "window": upstream.window,
                **upstream.options,
            }
            rate = upstream.tps
        config = [ConnectorSpec(name=s.default_connector, kind=kind, options=options, rate=rate)]
        for name, table in s.connectors.items():
            config.append(
                ConnectorSpec(
                    name=name,
                    kind=table["kind"],
                    options=connector_options(table),
                    rate=float(table.get("rate", 0)),
                )
            )
        self.connectors = ConnectorSet(
            registry=self.registry, config=config, default=s.default_connector
        )
        self.connectors.load(await store.list_stored_connectors())
        # During a Redis outage each node keeps to its share of a limit: the node count is not
        # known, so this host's worker count is the estimate.
        self.limiter = open_rate_limiter(
            s.redis_url, expected_nodes=s.workers, prefix=s.redis_prefix
        )
        return self.connectors

    async def connector_changed(
        self, name: str, connector: Connector | None, spec: ConnectorSpec | None
    ) -> None:
        """A connector replaced, stopped or removed at run time: the new one counts its
        reconnects from zero, and a stopped or removed one's gauges go with it."""
        self._reconnects_seen.pop(name, None)
        if connector is not None:
            return
        m = self.metrics
        for gauge in (m.binds_up, m.upstream_window):
            with contextlib.suppress(KeyError):
                gauge.remove(name)
        if spec is None:
            for gauge in (m.queue_depth, m.circuit_open):
                with contextlib.suppress(KeyError):
                    gauge.remove(name)

    def _build_webhooks(self, store: Store, node_id: str) -> WebhookDelivery:
        s = self.settings
        delivery = WebhookDelivery(
            store=store,
            node_id=node_id,
            metrics=self.metrics,
            allow_private=s.webhook_allow_private,
            concurrency=s.webhook_concurrency,
            timeout=s.webhook_timeout,
            max_age=s.webhook_max_age,
            retry_base=s.webhook_retry_base,
            retry_cap=s.webhook_retry_cap,
        )
        # Events commit with status changes and inbound messages: send them without waiting
        # for the next poll.
        # (Inbound messages wake it through `_wake_smpp_delivery`.)
        assert self.status is not None
        self.status.subscribe(lambda _: delivery.wake())
        delivery.start()
        return delivery

    def _refresh_gauges(self) -> None:
        """Gauges are state, not events: read from the components when /metrics is scraped."""
        m = self.metrics
        connectors = self.connectors if self.connectors is not None else {}
        for name, connector in connectors.items():
            if self.connectors is not None and not self.connectors.running(name):
                continue  # stopped: no binds, gauges removed when it stopped
            health = connector.health()
            m.binds_up.labels(connector=name).set(
                sum(1 for b in health if b.state in ("bound", "up"))
            )
            m.upstream_window.labels(connector=name).set(sum(b.in_flight for b in health))
            # The binds count reconnects since start; the counter gets what is new.
            reconnects = sum(b.reconnects for b in health)
            m.upstream_reconnects.labels(connector=name).inc(
                max(0, reconnects - self._reconnects_seen.get(name, 0))
            )
            self._reconnects_seen[name] = reconnects
        if self.dispatcher is not None:
            for name, depth in self.dispatcher.queue_depths().items():
                m.queue_depth.labels(connector=name).set(depth)
            for name, state in self.dispatcher.breaker_states().items():
                m.circuit_open.labels(connector=name).set(state is not BreakerState.CLOSED)
        if self.receipts is not None:
            m.receipts_parked.set(self.receipts.parked)

    @property
    def http_port(self) -> int:
        """The bound HTTP port (differs from the setting when that is 0)."""
        assert self.http is not None
        return int(self.http.servers[0].sockets[0].getsockname()[1])

    def _count_changes(self, changes: Any) -> None:
        now = time.time()
        transitions = Counter((c.account_id, c.status) for c in changes)
        for (account_id, status), count in transitions.items():
            self.metrics.child(self.metrics.messages_status, account_id, status.value).inc(count)
        for change in changes:
            if change.status.terminal:
                # A message id carries its acceptance time, so no store read is needed.
                self.metrics.delivery_latency.observe(max(now - id_timestamp(change.message_id), 0))

    def _wake_smpp_delivery(self) -> None:
        if self.smpp_server is not None:
            self.smpp_server.delivery.wake()
        if self.webhooks is not None:
            self.webhooks.wake()

    @property
    def smpp_port(self) -> int:
        assert self.smpp_server is not None
        return self.smpp_server.port

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        body: dict[str, Any] = {"node": self.settings.effective_node_id, "draining": self.draining}
        store_ok = True
        try:
            assert self.store is not None
            async with asyncio.timeout(2):
                await self.store.ping()
        except Exception as exc:
            store_ok = False
            body["store_error"] = type(exc).__name__
        body["store"] = "ok" if store_ok else "unreachable"
        connectors = self.connectors if self.connectors is not None else {}
        body["upstreams"] = {
            name: [dataclasses.asdict(b) for b in c.health()]
            for name, c in connectors.items()
            if self.connectors is not None and self.connectors.running(name)
        }
        if self.connectors is not None:
            body["stopped_connectors"] = sorted(
                n for n in self.connectors if not self.connectors.running(n)
            )
        return store_ok and not self.draining, body

    async def stop(self) -> None:
        """Drain and close everything, in order; calling it again does nothing."""
        if self._stopped:
            return
        self._stopped = True
        s = self.settings
        self.draining = True
        started = time.monotonic()

        def done(stage: str) -> None:
            log.info("drain: %s (%.2f s)", stage, time.monotonic() - started)

        if self.http is not None and self._http_task is not None:
            self.http.should_exit = True
            with contextlib.suppress(Exception):
                async with asyncio.timeout(s.shutdown_timeout):
                    await self._http_task
            done("HTTP closed")
        if self.smpp_server is not None:
            await self.smpp_server.stop(timeout=s.shutdown_timeout)
            done("ESMEs unbound")
        if self.intake is not None:
            await self.intake.drain()
            done("intake drained")
        if self.idempotency is not None:
            await self.idempotency.stop()
        if self.refresher is not None:
            await self.refresher.stop()
        if self.dispatcher is not None:
            await self.dispatcher.stop(timeout=s.shutdown_timeout)
            done("dispatch stopped, queued parts handed back")
        if self.connectors is not None:
            await self.connectors.stop()
        done("connectors closed")
        if self.receipts is not None:
            await self.receipts.stop()
        if self.inbound is not None:
            await self.inbound.stop()
        if self.webhooks is not None:
            await self.webhooks.stop()
        if self.scrape_gauges is not None:
            await self.scrape_gauges.close()
        if self.simulator is not None:
            await self.simulator.stop()
        if self.limiter is not None:
            with contextlib.suppress(Exception):
                await self.limiter.close()
        if self.admission is not None:
            with contextlib.suppress(Exception):
                await self.admission.close()
        if self.store is not None:
            await self.store.close()
        done("stopped")


async def _account_names(store: Store, rules: Sequence[RouteRule]) -> dict[str, str]:
    """Account ids of the names route rules give, so a rule may say `accounts = ["acme"]`."""
    names: dict[str, str] = {}
    for rule in rules:
        for name in rule.accounts:
            account = await store.get_account_by_name(name)
            if account is not None:
                names[account.id] = name
    return names


def _reuse_port_socket(host: str, port: int) -> socket.socket:
    """A listening socket that other worker processes bind too; the kernel spreads
    connections between them (SO_REUSEPORT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _tls_context(settings: Settings) -> ssl.SSLContext | None:
    if not settings.smpp_tls_cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.smpp_tls_cert, settings.smpp_tls_key)
    return context


__all__ = ["Account", "Gateway"]
