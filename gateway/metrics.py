"""Prometheus metrics, defined in one place.

Each gateway instance owns its registry (tests run several in one process). Labels are bounded:
connector names, statuses, message types, outcomes; never a phone number or a message id.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics import MetricWrapperBase

M = TypeVar("M", bound=MetricWrapperBase)

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_DELIVERY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._refreshers: list[Callable[[], None]] = []
        self._children: dict[tuple[MetricWrapperBase, tuple[Hashable, ...]], MetricWrapperBase] = {}
        r = self.registry
        # `account` is the account id: as many series as accounts, never numbers or message ids.
        self.messages_accepted = Counter(
            "gateway_messages_accepted",
            "Messages committed at intake",
            ["account", "type"],
            registry=r,
        )
        self.segments_accepted = Counter(
            "gateway_segments_accepted",
            "Segments committed at intake",
            ["account", "type"],
            registry=r,
        )
        self.ratelimit_wait = Histogram(
            "gateway_ratelimit_wait_seconds",
            "Time a part waited for its connector's rate limit before being sent",
            ["connector"],
            buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0),
            registry=r,
        )
        self.upstream_window = Gauge(
            "gateway_upstream_window_in_use",
            "Submits sent upstream and not yet answered, over all binds of a connector",
            ["connector"],
            registry=r,
        )
        self.upstream_reconnects = Counter(
            "gateway_upstream_reconnects",
            "Upstream binds lost and connected again (or tried to)",
            ["connector"],
            registry=r,
        )
        self.messages_status = Counter(
            "gateway_message_status_changes",
            "Committed message status transitions, by account and new status",
            ["account", "status"],
            registry=r,
        )
        self.parts_submitted = Counter(
            "gateway_parts_submitted",
            "Submit attempts to an upstream, by outcome",
            ["connector", "outcome"],
            registry=r,
        )
        self.submit_latency = Histogram(
            "gateway_submit_latency_seconds",
            "Time from sending a part upstream to the carrier's response",
            ["connector"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.intake_latency = Histogram(
            "gateway_intake_commit_seconds",
            "Time from a validated submission to its durable commit",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.delivery_latency = Histogram(
            "gateway_delivery_latency_seconds",
            "Time from acceptance to a final status",
            buckets=_DELIVERY_BUCKETS,
            registry=r,
        )
        self.receipts = Counter(
            "gateway_receipts",
            "Delivery receipts from upstreams: matched, parked, expired, evicted",
            ["connector", "outcome"],
            registry=r,
        )
        self.inbound = Counter(
            "gateway_inbound_messages",
            "Inbound (MO) messages stored, by whether an account owns the number",
            ["owner", "complete"],
            registry=r,
        )
        self.parts_final = Counter(
            "gateway_parts_final",
            "Parts that reached a final status by a carrier's receipt, by connector and status",
            ["connector", "status"],
            registry=r,
        )
        self.queue_depth = Gauge(
            "gateway_dispatch_queue_depth",
            "Parts waiting in this node's dispatch memory",
            ["connector"],
            registry=r,
        )
        self.smpp_binds = Gauge(
            "gateway_smpp_server_binds", "ESME binds to our SMPP server", ["system_id"], registry=r
        )
        self.asyncio_tasks = Gauge(
            "gateway_asyncio_tasks", "Tasks alive on the event loop (read when scraped)", registry=r
        )
        self.http_connections = Gauge(
            "gateway_http_connections", "Open connections to the REST API", registry=r
        )
        self.http_refused = Counter(
            "gateway_http_refused",
            "HTTP connections or requests refused by the connection guard, by reason",
            ["reason"],
            registry=r,
        )
        self.smpp_connections = Gauge(
            "gateway_smpp_server_connections",
            "Open connections to our SMPP server, bound or not",
            registry=r,
        )
        self.smpp_dropped = Counter(
            "gateway_smpp_server_dropped",
            "Connections refused or closed by our SMPP server's guards, by reason",
            ["reason"],
            registry=r,
        )
        self.smpp_throttled = Counter(
            "gateway_smpp_server_throttled",
            "Requests answered ESME_RTHROTTLED (window or rate exceeded)",
            registry=r,
        )
        self.auth_failures = Counter(
            "gateway_auth_failures",
            "Requests refused for a wrong API or admin key (throttled ones not counted)",
            ["surface"],
            registry=r,
        )
        self.receipts_parked = Gauge(
            "gateway_receipts_parked", "Receipts waiting for their submit response", registry=r
        )
        self.binds_up = Gauge(
            "gateway_upstream_binds_up", "Upstream binds currently bound", ["connector"], registry=r
        )
        self.failovers = Counter(
            "gateway_failovers",
            "Parts moved to the next connector of their route",
            ["from_connector", "to_connector"],
            registry=r,
        )
        self.circuit_open = Gauge(
            "gateway_circuit_open",
            "1 while a connector is out of rotation (circuit breaker open or half-open)",
            ["connector"],
            registry=r,
        )
        self.upstream_rate = Gauge(
            "gateway_upstream_rate",
            "Rate in segments/s a connector is held to now (lowered after throttling)",
            ["connector"],
            registry=r,
        )
        self.parts_expired = Counter(
            "gateway_parts_expired",
            "Queued parts whose validity ended before they were sent",
            registry=r,
        )
        self.smpp_pdus = Counter(
            "gateway_smpp_server_pdus",
            "Requests ESMEs sent to our SMPP server, by command (submit_sm, enquire_link, ...)",
            ["command"],
            registry=r,
        )
        self.smpp_responses = Counter(
            "gateway_smpp_server_responses",
            "Responses our SMPP server sent to ESMEs, by command and command_status",
            ["command", "status"],
            registry=r,
        )
        # Read when /metrics is scraped (gateway.scrape_gauges), not kept up to date in between.
        self.ready = Gauge(
            "gateway_ready",
            "1 while the node is ready for traffic (store answers, not draining), as /readyz",
            registry=r,
        )
        self.store_queued = Gauge(
            "gateway_store_queued_parts",
            "Queued parts in the shared store (every node's), by connector and priority lane",
            ["connector", "lane"],
            registry=r,
        )
        self.store_queue_age = Gauge(
            "gateway_store_queue_oldest_due_seconds",
            "How long the oldest due part of a connector's lane has waited to be sent",
            ["connector", "lane"],
            registry=r,
        )
        self.store_queue_figures_age = Gauge(
            "gateway_store_queue_figures_age_seconds",
            "How old the store queue figures are (a slow queue query is reused for a while; "
            "NaN while the store cannot be measured)",
            registry=r,
        )
        self.webhook_deliveries = Counter(
            "gateway_webhook_deliveries",
            "Webhook POSTs by outcome: delivered (2xx), retry (to be retried), failed (given up)",
            ["outcome"],
            registry=r,
        )
        self.webhook_retries = Counter(
            "gateway_webhook_retries", "Webhook POSTs that were a retry of an event", registry=r
        )
        self.webhook_outbox_pending = Gauge(
            "gateway_webhook_outbox_pending",
            "Webhook events committed and not yet acknowledged or given up (all nodes)",
            registry=r,
        )

    def child(self, metric: M, *values: Hashable) -> M:
        """`metric.labels(*values)` (in the metric's label order), cached: the hot paths count
        per message, and prometheus_client validates the labels and takes a lock on every
        `labels` call. Not for metrics whose children are removed (`clear`, `remove`)."""
        key = (metric, values)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*values)
        return found  # type: ignore[return-value]

    def before_render(self, refresh: Callable[[], None]) -> None:
        """Have `refresh` set gauges from live state each time the metrics are rendered."""
        self._refreshers.append(refresh)

    def render(self) -> bytes:
        for refresh in self._refreshers:
            refresh()
        return generate_latest(self.registry)
