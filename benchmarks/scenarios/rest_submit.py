"""rest-submit: POST /v1/messages against the real gateway process, closed loop, 64 connections.

The gateway runs as `python -m gateway run` on a fresh SQLite file with the built-in simulator
as its upstream, so everything a message costs runs in that process: HTTP, auth, validation,
encoding, the group commit, dispatch, the simulator, the receipt, the status update. After each
load the scenario waits (bounded) until every accepted message is delivered, and the gateway's
CPU per message is counted over load and drain together.

Baseline: a constant-JSON FastAPI endpoint under uvicorn with the same HTTP settings and the
same generator, runs interleaved with the gateway's. The generator's own CPU is reported: near
100% of a core it would be the bottleneck, not the server.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import uvloop

from benchmarks.http_load import LoadResult, build_request, closed_loop
from benchmarks.modes import Context
from benchmarks.processes import GatewayProcess, ManagedProcess, UvicornBaseline
from benchmarks.prometheus import GatewayCounts, wait_for_delivered
from benchmarks.report import ScenarioResult

BODY = json.dumps(
    {"to": "+4915112345678", "from": "Acme", "text": "Your verification code is 482913"}
).encode()


def _request(port: int, key: str) -> bytes:
    return build_request(
        "POST",
        "/v1/messages",
        host=f"127.0.0.1:{port}",
        body=BODY,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )


async def _load(
    ctx: Context, port: int, request: bytes, *, duration: float, max_requests: int
) -> LoadResult:
    return await closed_loop(
        "127.0.0.1",
        port,
        request,
        concurrency=ctx.mode.pick(full=64, quick=64, smoke=4),
        duration=duration,
        max_requests=max_requests,
    )


async def _main(ctx: Context, result: ScenarioResult, log_dir: Path) -> None:
    duration = ctx.mode.pick(full=10.0, quick=2.0, smoke=10.0)
    max_requests = ctx.mode.pick(full=1_000_000, quick=200_000, smoke=20)
    warmup = ctx.mode.pick(full=1.0, quick=0.5, smoke=0.0)
    drain_timeout = ctx.mode.pick(full=120.0, quick=60.0, smoke=20.0)
    gateway = GatewayProcess(log_dir, database_url=f"sqlite:///{log_dir}/gateway.db")
    baseline = UvicornBaseline(log_dir)
    processes: list[ManagedProcess] = [gateway, baseline]
    try:
        for p in processes:
            p.start()
        gateway.wait_ready()
        baseline.wait_ready()
        gw_request = _request(gateway.http_port, gateway.key)
        base_request = _request(baseline.port, gateway.key)
        if warmup:
            before = GatewayCounts.read(gateway.url)
            warm = await _load(
                ctx, gateway.http_port, gw_request, duration=warmup, max_requests=10**6
            )
            wait_for_delivered(gateway.url, before, warm.count(202), drain_timeout)
            await _load(ctx, baseline.port, base_request, duration=warmup, max_requests=10**6)

        figures = result.figures
        for run in range(ctx.runs):
            before = GatewayCounts.read(gateway.url)
            cpu0 = gateway.cpu_seconds()
            load = await _load(
                ctx, gateway.http_port, gw_request, duration=duration, max_requests=max_requests
            )
            cpu_load = gateway.cpu_seconds() - cpu0
            accepted = load.count(202)
            counts, drain = wait_for_delivered(gateway.url, before, accepted, drain_timeout)
            cpu = gateway.cpu_seconds() - cpu0

            base_cpu0 = baseline.cpu_seconds()
            base = await _load(
                ctx, baseline.port, base_request, duration=duration, max_requests=max_requests
            )
            base_cpu = baseline.cpu_seconds() - base_cpu0

            figures.record("accepted/s", load.rate(202), "msg/s")
            figures.record_baseline("accepted/s", base.rate(202), "msg/s", "(FastAPI constant)")
            figures.record_latencies(
                "202", load.latencies, baseline=base.latencies, baseline_label="(FastAPI constant)"
            )
            figures.record(
                "server CPU during load",
                cpu_load / load.elapsed * 100,
                "% core",
                higher_is_better=False,
            )
            figures.record_baseline(
                "server CPU during load",
                base_cpu / base.elapsed * 100,
                "% core",
                "(FastAPI constant)",
            )
            figures.record(
                "gateway CPU per 1k messages, accept to delivered",
                cpu / max(accepted, 1) * 1000,
                "s",
                higher_is_better=False,
            )
            figures.record_baseline(
                "gateway CPU per 1k messages, accept to delivered",
                base_cpu / max(base.count(202), 1) * 1000,
                "s",
                "(FastAPI constant, HTTP only)",
            )
            figures.record(
                "drain after load: last accepted to delivered", drain, "s", higher_is_better=False
            )
            figures.record(
                "load generator CPU",
                load.generator_utilisation * 100,
                "% core",
                higher_is_better=False,
            )
            figures.record_baseline(
                "load generator CPU", base.generator_utilisation * 100, "% core", "(FastAPI run)"
            )
            result.details.setdefault("runs", []).append(
                {
                    "statuses": dict(load.statuses),
                    "baseline_statuses": dict(base.statuses),
                    "transport_errors": load.transport_errors,
                    "counts_since_start_of_run": vars(counts),
                    "seconds": load.elapsed,
                }
            )
            result.check(
                f"run {run + 1}: every request answered 202",
                load.answered == accepted and not load.transport_errors and not load.timed_out,
                f"statuses {dict(load.statuses)}, transport errors "
                f"{load.transport_errors}, timed out {load.timed_out}",
            )
            result.check(
                f"run {run + 1}: baseline answered 202",
                base.answered == base.count(202) > 0 and not base.transport_errors,
                f"statuses {dict(base.statuses)}",
            )
            result.check(
                f"run {run + 1}: /metrics accepted = 202 responses",
                counts.accepted == accepted,
                f"{counts.accepted} vs {accepted}",
            )
            result.check(
                f"run {run + 1}: all accepted delivered",
                counts.delivered == accepted == counts.submitted,
                f"accepted {accepted}, submitted {counts.submitted}, "
                f"delivered {counts.delivered} after {drain:.1f}s",
            )
            result.runs += 1
        figures.record("gateway peak RSS", gateway.peak_rss_mib(), "MiB", higher_is_better=False)
        figures.record_baseline(
            "gateway peak RSS", baseline.peak_rss_mib(), "MiB", "(FastAPI constant)"
        )
    finally:
        for p in processes:
            p.stop()
    result.check(
        "gateway exited cleanly",
        gateway.proc is not None and gateway.proc.returncode == 0,
        gateway.output_tail(5),
    )


def run(ctx: Context) -> ScenarioResult:
    result = ScenarioResult(
        "rest-submit",
        ctx.mode.name,
        "gateway process: SQLite file, built-in simulator upstream",
    )
    with tempfile.TemporaryDirectory(dir=ctx.work_dir, prefix="bench-rest-") as tmp:
        started = time.monotonic()
        try:
            uvloop.run(_main(ctx, result, Path(tmp)))
        finally:
            result.details["seconds"] = time.monotonic() - started
    return result
