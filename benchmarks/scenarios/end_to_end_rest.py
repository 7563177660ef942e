"""end-to-end-rest: REST in, SMPP out to a separate simulator process, receipt back, delivered.

N messages are released at a fixed rate (open loop); then the scenario polls the gateway's
/metrics (bounded) until N more messages are delivered. Reported: messages per second from the
first send to the last delivery, REST latency from each message's intended send time, the
acceptance-to-delivered latency from the gateway's histogram (bucket upper bounds), and the CPU
and memory of both processes. The counts (202 responses, accepted at intake, accepted by the
upstream, delivered) must all equal N, or the scenario fails.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import uvloop

from benchmarks.http_load import build_request, open_loop
from benchmarks.modes import Context
from benchmarks.processes import GatewayProcess, SimulatorProcess
from benchmarks.prometheus import GatewayCounts, bucket_quantile, scrape, wait_for_delivered
from benchmarks.report import ScenarioResult

BODY = json.dumps(
    {"to": "+4915112345678", "from": "Acme", "text": "Your parcel arrives today, 14:00-16:00."}
).encode()
BINDS = 2
WINDOW = 50
RECEIPT_DELAY = 0.05
DELIVERY_HISTOGRAM = "gateway_delivery_latency_seconds"


async def _main(ctx: Context, result: ScenarioResult, log_dir: Path) -> None:
    count = ctx.mode.pick(full=4000, quick=600, smoke=10)
    rate = ctx.mode.pick(full=400.0, quick=300.0, smoke=50.0)
    connections = ctx.mode.pick(full=64, quick=64, smoke=4)
    wait_timeout = ctx.mode.pick(full=120.0, quick=60.0, smoke=30.0)
    result.details.update(
        messages=count, offered_rate=rate, binds=BINDS, window=WINDOW, receipt_delay=RECEIPT_DELAY
    )
    simulator = SimulatorProcess(log_dir, receipt_delay=RECEIPT_DELAY)
    gateway: GatewayProcess | None = None
    try:
        simulator.start()
        simulator.wait_ready()
        gateway = GatewayProcess(
            log_dir,
            database_url=f"sqlite:///{log_dir}/gateway.db",
            GATEWAY_UPSTREAM=simulator.upstream_url(binds=BINDS, window=WINDOW),
        )
        gateway.start()
        gateway.wait_ready()
        request = build_request(
            "POST",
            "/v1/messages",
            host=f"127.0.0.1:{gateway.http_port}",
            body=BODY,
            headers={"Authorization": f"Bearer {gateway.key}", "Content-Type": "application/json"},
        )
        figures = result.figures
        for run in range(ctx.runs):
            before = GatewayCounts.read(gateway.url)
            buckets_before = scrape(gateway.url).buckets(DELIVERY_HISTOGRAM)
            gw_cpu0, sim_cpu0 = gateway.cpu_seconds(), simulator.cpu_seconds()
            started = time.perf_counter()
            load = await open_loop(
                "127.0.0.1",
                gateway.http_port,
                request,
                rate=rate,
                count=count,
                connections=connections,
                timeout=wait_timeout,
            )
            counts, _ = wait_for_delivered(gateway.url, before, count, wait_timeout)
            elapsed = time.perf_counter() - started
            gw_cpu = gateway.cpu_seconds() - gw_cpu0
            sim_cpu = simulator.cpu_seconds() - sim_cpu0
            buckets_after = scrape(gateway.url).buckets(DELIVERY_HISTOGRAM)

            accepted = load.count(202)
            figures.record(f"delivered/s, {rate:g}/s offered", counts.delivered / elapsed, "msg/s")
            figures.record_latencies("REST 202 (from intended send)", load.latencies)
            for label, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
                figures.record(
                    f"accept to delivered {label} (histogram bucket bound)",
                    bucket_quantile(buckets_before, buckets_after, q) * 1000,
                    "ms",
                    higher_is_better=False,
                )
            per_k = 1000 / max(counts.delivered, 1)
            figures.record(
                "gateway CPU per 1k messages", gw_cpu * per_k, "s", higher_is_better=False
            )
            figures.record(
                "simulator CPU per 1k messages", sim_cpu * per_k, "s", higher_is_better=False
            )
            run_counts = {
                "sent": count,
                "http_202": accepted,
                "accepted": counts.accepted,
                "submitted_upstream": counts.submitted,
                "delivered": counts.delivered,
                "other_statuses": {k: v for k, v in load.statuses.items() if k != 202},
                "transport_errors": load.transport_errors,
            }
            result.details.setdefault("runs", []).append(run_counts)
            result.check(
                f"run {run + 1}: sent = 202 = accepted = submitted upstream = delivered",
                count == accepted == counts.accepted == counts.submitted == counts.delivered
                and not load.transport_errors,
                json.dumps(run_counts),
            )
            result.runs += 1
        figures.record("gateway peak RSS", gateway.peak_rss_mib(), "MiB", higher_is_better=False)
        figures.record(
            "simulator peak RSS", simulator.peak_rss_mib(), "MiB", higher_is_better=False
        )
    finally:
        if gateway is not None:
            gateway.stop()
        simulator.stop()
    if gateway is not None:
        result.check(
            "gateway exited cleanly",
            gateway.proc is not None and gateway.proc.returncode == 0,
            gateway.output_tail(5),
        )


def run(ctx: Context) -> ScenarioResult:
    result = ScenarioResult(
        "end-to-end-rest",
        ctx.mode.name,
        f"gateway (SQLite) -> simulator process, smpp binds={BINDS} window={WINDOW}",
    )
    with tempfile.TemporaryDirectory(dir=ctx.work_dir, prefix="bench-e2e-") as tmp:
        uvloop.run(_main(ctx, result, Path(tmp)))
    return result
