"""dispatch: how fast the gateway moves a backlog of committed parts to the simulator, over one
bind and over four: with window 50 and an instant carrier (what one process can push), and with
the default window of 10 and a carrier that takes 20 ms to answer each submit (where a bind is
capped at window / round trip = 500 parts/s, so binds are what buys throughput).

Intake is kept out of the figure: each run first commits N messages through REST to a gateway
whose carrier is unreachable (they wait in the store), stops it, then starts the gateway again
with the simulator process as its carrier. Its dispatcher claims the backlog from the store and
sends it; the rate is the parts the carrier accepted (`gateway_parts_submitted_total`, outcome
accepted) between the moment every bind is up and the last one, over that time. Every part is
checked: submitted = N. Receipts flow back meanwhile (registered delivery is on), so the figure
includes their correlation and status commits, as in production.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import uvloop

from benchmarks.http_load import build_request, open_loop
from benchmarks.modes import Context
from benchmarks.processes import GatewayProcess, SimulatorProcess, free_port
from benchmarks.prometheus import GatewayCounts
from benchmarks.report import ScenarioResult

BODY = json.dumps(
    {"to": "+4915112345678", "from": "Acme", "text": "Your code is 424242. It expires in 5 min."}
).encode()
# (binds, window, carrier latency in seconds)
CONFIGS = ((1, 50, 0.0), (4, 50, 0.0), (1, 10, 0.02), (4, 10, 0.02))
NODE_ID = "bench-dispatch"


def _gateway(log_dir: Path, database_url: str, upstream: str) -> GatewayProcess:
    return GatewayProcess(
        log_dir,
        database_url=database_url,
        GATEWAY_UPSTREAM=upstream,
        GATEWAY_NODE_ID=NODE_ID,  # the restarted node takes the backlog back at once
        GATEWAY_SHUTDOWN_TIMEOUT="1",  # parts waiting for a bind that never comes up
        GATEWAY_DISPATCH_CAPACITY="20000",
    )


async def _commit_backlog(log_dir: Path, database_url: str, count: int) -> None:
    """N messages committed and left queued: the carrier's port has nobody listening."""
    gateway = _gateway(log_dir, database_url, f"smpp://gateway:secret@127.0.0.1:{free_port()}")
    gateway.start()
    try:
        gateway.wait_port("127.0.0.1", gateway.http_port)
        request = build_request(
            "POST",
            "/v1/messages",
            host=f"127.0.0.1:{gateway.http_port}",
            body=BODY,
            headers={"Authorization": f"Bearer {gateway.key}", "Content-Type": "application/json"},
        )
        load = await open_loop(
            "127.0.0.1",
            gateway.http_port,
            request,
            rate=2000.0,
            count=count,
            connections=32,
            timeout=120.0,
        )
        if load.count(202) != count:
            raise RuntimeError(f"backlog: {load.count(202)} of {count} accepted: {load.statuses}")
    finally:
        gateway.stop()


def _drain(
    log_dir: Path,
    database_url: str,
    simulator: SimulatorProcess,
    binds: int,
    window: int,
    count: int,
) -> tuple[float, float, float, float]:
    """(parts/s, gateway and simulator CPU s per 1k parts, parts submitted) for one drain."""
    gateway = _gateway(log_dir, database_url, simulator.upstream_url(binds=binds, window=window))
    gateway.start()
    try:
        gateway.wait_ready()  # every bind up
        started, cpu0 = time.perf_counter(), gateway.cpu_seconds()
        simulator_cpu0 = simulator.cpu_seconds()
        before = GatewayCounts.read(gateway.url).submitted
        deadline = time.monotonic() + 120
        submitted = before
        while submitted < count and time.monotonic() < deadline:
            time.sleep(0.02)
            submitted = GatewayCounts.read(gateway.url).submitted
        elapsed = time.perf_counter() - started
        cpu = gateway.cpu_seconds() - cpu0
        simulator_cpu = simulator.cpu_seconds() - simulator_cpu0
    finally:
        gateway.stop()
    sent = submitted - before
    per_k = 1000 / max(sent, 1)
    return sent / elapsed, cpu * per_k, simulator_cpu * per_k, submitted


async def _main(ctx: Context, result: ScenarioResult, log_dir: Path) -> None:
    count = ctx.mode.pick(full=10_000, quick=3000, smoke=20)
    # Smoke: the first and the last, so both simulators are exercised within the test's time.
    configs = ctx.mode.pick(full=CONFIGS, quick=CONFIGS, smoke=CONFIGS[::3])
    result.details.update(messages=count, configs=[list(c) for c in configs])
    simulators = {
        latency: SimulatorProcess(log_dir, receipt_delay=0.05, latency=latency)
        for latency in sorted({c[2] for c in configs})
    }
    try:
        for simulator in simulators.values():
            simulator.start()
            simulator.wait_ready()
        for run in range(ctx.runs):
            for binds, window, latency in configs:
                database_url = f"sqlite:///{log_dir}/dispatch-{run}-{binds}-{window}.db"
                await _commit_backlog(log_dir, database_url, count)
                rate, cpu, simulator_cpu, submitted = _drain(
                    log_dir, database_url, simulators[latency], binds, window, count
                )
                label = (
                    f"{binds} bind{'s' if binds > 1 else ''}, window {window}, "
                    f"carrier {latency * 1000:g} ms"
                )
                result.figures.record(f"dispatch to simulator, {label}", rate, "parts/s")
                result.figures.record(
                    f"gateway CPU per 1k parts, {label}", cpu, "s", higher_is_better=False
                )
                result.figures.record(
                    f"simulator CPU per 1k parts, {label}",
                    simulator_cpu,
                    "s",
                    higher_is_better=False,
                )
                result.check(
                    f"run {run + 1}, {label}: every part of the backlog submitted",
                    submitted == count,
                    f"{submitted:g} of {count}",
                )
            result.runs += 1
    finally:
        for simulator in simulators.values():
            simulator.stop()


def run(ctx: Context) -> ScenarioResult:
    result = ScenarioResult(
        "dispatch",
        ctx.mode.name,
        "backlog in SQLite -> simulator process: (binds, window, carrier latency) "
        + ", ".join(f"({b}, {w}, {lat * 1000:g} ms)" for b, w, lat in CONFIGS),
    )
    with tempfile.TemporaryDirectory(dir=ctx.work_dir, prefix="bench-dispatch-") as tmp:
        uvloop.run(_main(ctx, result, Path(tmp)))
    return result
