"""rest-submit: POST /v1/messages against the real gateway process, closed loop, 64 connections.

The gateway runs as `python -m gateway run` on a fresh SQLite file with the built-in simulator
as its upstream, so everything a message costs runs in that process: HTTP, auth, validation,
encoding, the group commit, dispatch, the simulator, the receipt, the status update. After each
load the scenario waits (bounded) until every accepted message is delivered, and the gateway's
CPU per message is counted over load and drain together.

Baseline: a constant-JSON FastAPI endpoint under uvicorn with the same HTTP settings and the
same generator, runs interleaved with the gateway's. The generator's own CPU is reported: near
100% of a core it would be the bottleneck, not the server.

Then batches: POST /v1/messages/batch of 1,000 distinct valid recipients each, closed loop over
4 connections, bounded in requests (12 in the full mode) and time; recipients accepted per
second against the issue's target of 25,000/s (a ratio, not asserted), request latency, gateway
CPU per 1,000 recipients and peak RSS of that phase. Every accepted recipient must be delivered,
and the counts must agree (202 bodies, /metrics accepted, submitted, delivered), or the run
fails.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import uvloop

from benchmarks.http_load import LoadResult, build_request, closed_loop
from benchmarks.modes import Context
from benchmarks.processes import GatewayProcess, ManagedProcess, UvicornBaseline
from benchmarks.prometheus import GatewayCounts, wait_for_delivered
from benchmarks.report import ScenarioResult

BATCH_TARGET = 25_000.0  # recipients accepted per second (issue #10)

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


def _batch_source(port: int, key: str, size: int, offset: int) -> Callable[[int], bytes]:
    """Request `index` carries `size` distinct valid German mobile numbers (+49151 and eight
    digits), those of request `offset + index`: runs given the count of requests before them
    send numbers the earlier ones did not (until 10^8 recipients)."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def request(index: int) -> bytes:
        first = (offset + index) * size
        body = {
            "from": "Acme",
            "text": "Your parcel arrives today between 10:00 and 12:00",
            "recipients": [{"to": f"+49151{(first + i) % 10**8:08d}"} for i in range(size)],
        }
        return build_request(
            "POST",
            "/v1/messages/batch",
            host=f"127.0.0.1:{port}",
            body=json.dumps(body, separators=(",", ":")).encode(),
            headers=headers,
        )

    return request


@dataclass
class _BatchReplies:
    """What the 202 bodies said: recipients sent, accepted, rejected (they must be none)."""

    recipients: int = 0
    accepted: int = 0
    rejected: int = 0
    unreadable: int = 0

    def add(self, _index: int, status: int, body: bytes) -> None:
        if status != 202:
            return
        try:
            reply = json.loads(body)
            self.recipients += int(reply["recipients"])
            self.accepted += int(reply["accepted"])
            self.rejected += int(reply["rejected"])
        except (ValueError, KeyError, TypeError):
            self.unreadable += 1


async def _batches(ctx: Context, result: ScenarioResult, gateway: GatewayProcess) -> None:
    size = ctx.mode.pick(full=1000, quick=1000, smoke=20)
    concurrency = ctx.mode.pick(full=4, quick=4, smoke=1)
    # Small enough that the backlog drains to delivered in minutes on a 2-core machine.
    duration = ctx.mode.pick(full=8.0, quick=4.0, smoke=10.0)
    max_requests = ctx.mode.pick(full=12, quick=6, smoke=1)
    drain_timeout = ctx.mode.pick(full=240.0, quick=120.0, smoke=20.0)
    name = f"batch of {size}"
    figures = result.figures
    offset = 0  # request index: every run sends numbers the earlier ones did not
    if not ctx.mode.smoke:
        replies = _BatchReplies()
        before = GatewayCounts.read(gateway.url)
        warm = await closed_loop(
            "127.0.0.1",
            gateway.http_port,
            _batch_source(gateway.http_port, gateway.key, size, offset),
            concurrency=concurrency,
            duration=1.0,
            max_requests=2 * concurrency,
            on_body=replies.add,
        )
        offset += warm.answered + warm.transport_errors
        wait_for_delivered(gateway.url, before, replies.accepted, drain_timeout)
    reset = gateway.reset_peak_rss()
    for run in range(ctx.runs):
        replies = _BatchReplies()
        before = GatewayCounts.read(gateway.url)
        cpu0 = gateway.cpu_seconds()
        load = await closed_loop(
            "127.0.0.1",
            gateway.http_port,
            _batch_source(gateway.http_port, gateway.key, size, offset),
            concurrency=concurrency,
            duration=duration,
            max_requests=max_requests,
            on_body=replies.add,
        )
        offset += load.answered + load.transport_errors
        cpu_load = gateway.cpu_seconds() - cpu0
        accepted = replies.accepted
        counts, drain = wait_for_delivered(gateway.url, before, accepted, drain_timeout)
        cpu = gateway.cpu_seconds() - cpu0

        figures.record(
            f"{name}: recipients accepted/s",
            accepted / load.elapsed,
            "msg/s",
            target=BATCH_TARGET,
        )
        figures.record(f"{name}: requests/s", load.rate(202), "req/s")
        figures.record_latencies(f"{name}: request", load.latencies)
        figures.record(
            f"{name}: gateway CPU per 1k recipients, accept only",
            cpu_load / max(accepted, 1) * 1000,
            "s",
            higher_is_better=False,
        )
        figures.record(
            f"{name}: gateway CPU per 1k recipients, accept to delivered",
            cpu / max(accepted, 1) * 1000,
            "s",
            higher_is_better=False,
        )
        figures.record(
            f"{name}: drain after load: last accepted to delivered",
            drain,
            "s",
            higher_is_better=False,
        )
        figures.record(
            f"{name}: load generator CPU",
            load.generator_utilisation * 100,
            "% core",
            higher_is_better=False,
        )
        result.details.setdefault("batch_runs", []).append(
            {
                "recipients_per_request": size,
                "statuses": dict(load.statuses),
                "transport_errors": load.transport_errors,
                "replies": vars(replies),
                "counts_since_start_of_run": vars(counts),
                "seconds": load.elapsed,
            }
        )
        label = f"batch run {run + 1}"
        result.check(
            f"{label}: every request answered 202, every recipient accepted",
            load.answered == load.count(202) > 0
            and not load.transport_errors
            and not load.timed_out
            and replies.recipients == replies.accepted == load.count(202) * size
            and not replies.rejected
            and not replies.unreadable,
            f"statuses {dict(load.statuses)}, transport errors {load.transport_errors}, "
            f"timed out {load.timed_out}, replies {vars(replies)}",
        )
        result.check(
            f"{label}: /metrics accepted = recipients accepted",
            counts.accepted == accepted,
            f"{counts.accepted} vs {accepted}",
        )
        result.check(
            f"{label}: all accepted recipients delivered",
            counts.delivered == accepted == counts.submitted,
            f"accepted {accepted}, submitted {counts.submitted}, "
            f"delivered {counts.delivered} after {drain:.1f}s",
        )
    figures.record(
        f"{name}: gateway peak RSS" + ("" if reset else " (whole process life)"),
        gateway.peak_rss_mib(),
        "MiB",
        higher_is_better=False,
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
        baseline.stop()  # idle from here: the batch phase measures the gateway alone
        await _batches(ctx, result, gateway)
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
