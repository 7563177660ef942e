"""`python -m benchmarks.soak --seconds 1800`: a bounded soak of a real gateway process.

A gateway (`python -m gateway run`, SQLite in a temporary directory, or PostgreSQL) with the
simulator in its own process as its carrier takes a steady REST rate (open loop, benchmarks/
http_load.py) and a steady SMPP rate with delivery receipts (benchmarks/smpp_load.py, paced)
for `--seconds`, in windows of `--window` seconds (a minute by default). After each window it
samples the gateway's RSS and open file descriptors (/proc/PID), its asyncio task count
(`gateway_asyncio_tasks` on /metrics) and the window's submit latency p50/p99, and prints one
row per window.

It fails (exit 1) when something is wrong: a REST submit not answered 202, an SMPP submit not
answered ESME_ROK, a receipt missing, the gateway gone; and, with timing checks on (the
default), when after the first window (the warm-up) RSS grew by more than `--max-rss-growth`
MiB, open fds by more than `--max-fd-growth`, or a later window's latency p50 or p99 exceeds
`--max-drift` times the first window's (a floor of 20 ms for p50, 50 ms for p99, so noise at
a few milliseconds does not count).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks.http_load import build_request, open_loop
from benchmarks.processes import GatewayProcess, SimulatorProcess, rss_mib
from benchmarks.smpp_load import run_load

SMPP_PASSWORD = "soak1234"


@dataclass
class SoakConfig:
    seconds: float = 1800.0
    window: float = 60.0
    rest_rate: float = 30.0
    smpp_rate: float = 30.0
    check_timing: bool = True
    max_rss_growth_mib: float = 64.0
    max_fd_growth: int = 16
    max_drift: float = 3.0
    store_env: dict[str, str] = field(default_factory=dict)
    log: Callable[[str], None] = print


@dataclass
class Window:
    index: int
    rest_sent: int
    rest_accepted: int
    rest_p50: float
    rest_p99: float
    smpp_sent: int
    smpp_ok: int
    receipts: int
    smpp_p50: float
    smpp_p99: float
    rss_mib: float
    fds: int
    tasks: int

    ROW = (
        "{index:>4} {rest_sent:>6} {rest_accepted:>6} {rest_p50:>8.1f} {rest_p99:>8.1f} "
        "{smpp_sent:>6} {smpp_ok:>6} {receipts:>6} {smpp_p50:>8.1f} {smpp_p99:>8.1f} "
        "{rss_mib:>7.1f} {fds:>5} {tasks:>6}"
    )
    HEADER = (
        " win   rest    202  p50(ms)  p99(ms)   smpp     ok  rcpts  p50(ms)  p99(ms)"
        "  rss MiB   fds  tasks"
    )

    def row(self) -> str:
        values = dict(vars(self))
        for key in ("rest_p50", "rest_p99", "smpp_p50", "smpp_p99"):
            values[key] = values[key] * 1000
        return self.ROW.format(**values)


@dataclass
class SoakReport:
    windows: list[Window] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    gateway_log: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.failures

    def table(self) -> str:
        return "\n".join([Window.HEADER, *(w.row() for w in self.windows)])


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _tasks(url: str) -> int:
    text = httpx.get(url + "/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith("gateway_asyncio_tasks "):
            return int(float(line.split()[1]))
    return -1


async def _window(
    index: int, gateway: GatewayProcess, config: SoakConfig, request: bytes
) -> tuple[Window, list[str]]:
    failures: list[str] = []
    rest_count = max(1, round(config.rest_rate * config.window))
    smpp_count = max(1, round(config.smpp_rate * config.window))
    rest, smpp = await asyncio.gather(
        open_loop(
            "127.0.0.1",
            gateway.http_port,
            request,
            rate=config.rest_rate,
            count=rest_count,
            connections=8,
            timeout=config.window + 15,
        ),
        run_load(
            "127.0.0.1",
            gateway.smpp_port,
            system_id="demo",
            password=SMPP_PASSWORD,
            binds=1,
            window=10,
            mode="transceiver",
            count=smpp_count,
            duration=config.window,
            receipt_timeout=10,
            rate=config.smpp_rate,
        ),
    )
    accepted = rest.count(202)
    if accepted != rest_count or rest.transport_errors or rest.timed_out:
        failures.append(
            f"window {index}: REST {accepted}/{rest_count} accepted, statuses "
            f"{dict(rest.statuses)}, {rest.transport_errors} transport errors"
        )
    if smpp.ok != smpp_count or smpp.timeouts:
        failures.append(
            f"window {index}: SMPP {smpp.ok}/{smpp_count} ESME_ROK, responses "
            f"{dict(smpp.responses)}, {smpp.timeouts} timeouts"
        )
    if smpp.matched_receipts < smpp.ok:
        failures.append(f"window {index}: {smpp.matched_receipts}/{smpp.ok} receipts arrived")
    if not gateway.alive():
        failures.append(f"window {index}: the gateway exited")
    window = Window(
        index=index,
        rest_sent=rest_count,
        rest_accepted=accepted,
        rest_p50=_quantile(rest.latencies, 0.5),
        rest_p99=_quantile(rest.latencies, 0.99),
        smpp_sent=smpp.submitted,
        smpp_ok=smpp.ok,
        receipts=smpp.matched_receipts,
        smpp_p50=_quantile(smpp.latencies, 0.5),
        smpp_p99=_quantile(smpp.latencies, 0.99),
        rss_mib=rss_mib(gateway.pid),
        fds=_fds(gateway.pid),
        tasks=await asyncio.to_thread(_tasks, gateway.url),
    )
    return window, failures


def _timing_failures(windows: list[Window], config: SoakConfig) -> list[str]:
    if len(windows) < 2:
        return []
    base, later = windows[0], windows[1:]
    failures = []
    last = windows[-1]
    if last.rss_mib - base.rss_mib > config.max_rss_growth_mib:
        failures.append(
            f"RSS grew {last.rss_mib - base.rss_mib:.1f} MiB after the first window "
            f"(bound {config.max_rss_growth_mib} MiB)"
        )
    if last.fds - base.fds > config.max_fd_growth:
        failures.append(f"open fds grew by {last.fds - base.fds} (bound {config.max_fd_growth})")
    for name, floor in (
        ("rest_p50", 0.02),
        ("rest_p99", 0.05),
        ("smpp_p50", 0.02),
        ("smpp_p99", 0.05),
    ):
        limit = config.max_drift * max(getattr(base, name), floor)
        worst = max(later, key=lambda w: getattr(w, name))
        if getattr(worst, name) > limit:
            failures.append(
                f"{name} drifted: {getattr(worst, name) * 1000:.1f} ms in window {worst.index}, "
                f"over {config.max_drift}x the first window's (limit {limit * 1000:.1f} ms)"
            )
    return failures


def run_soak(config: SoakConfig) -> SoakReport:
    tmp = Path(tempfile.mkdtemp(prefix="soak-"))
    report = SoakReport()
    store_env = config.store_env or {"GATEWAY_DATABASE_URL": f"sqlite:///{tmp}/gateway.db"}
    try:
        with SimulatorProcess(tmp, receipt_delay=0.05) as simulator:
            simulator.wait_ready()
            with GatewayProcess(
                tmp,
                database_url=store_env["GATEWAY_DATABASE_URL"],
                **{k: v for k, v in store_env.items() if k != "GATEWAY_DATABASE_URL"},
                GATEWAY_UPSTREAM=simulator.upstream_url(binds=2, window=50),
                GATEWAY_DEMO_SMPP_PASSWORD=SMPP_PASSWORD,
                GATEWAY_LOG_LEVEL="WARNING",
            ) as gateway:
                report.gateway_log = gateway.log_path
                gateway.wait_ready()
                body = json.dumps(
                    {"to": "+4915112345678", "from": "Acme", "text": "soak test message"}
                ).encode()
                request = build_request(
                    "POST",
                    "/v1/messages",
                    host="127.0.0.1",
                    body=body,
                    headers={
                        "Authorization": f"Bearer {gateway.key}",
                        "Content-Type": "application/json",
                    },
                )
                windows = max(1, round(config.seconds / config.window))
                config.log(
                    f"soak: {windows} windows of {config.window:.0f} s, REST "
                    f"{config.rest_rate}/s, SMPP {config.smpp_rate}/s with receipts; "
                    f"gateway PID {gateway.pid}"
                )
                config.log(Window.HEADER)
                for index in range(1, windows + 1):
                    window, failures = asyncio.run(_window(index, gateway, config, request))
                    report.windows.append(window)
                    report.failures.extend(failures)
                    config.log(window.row())
                    if not gateway.alive():
                        break
                if config.check_timing:
                    report.failures.extend(_timing_failures(report.windows, config))
    finally:
        if report.ok:
            shutil.rmtree(tmp, ignore_errors=True)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__)
    parser.add_argument(
        "--seconds", type=float, default=float(os.environ.get("SOAK_SECONDS", "1800"))
    )
    parser.add_argument("--window", type=float, default=60.0, help="seconds per table row")
    parser.add_argument("--rest-rate", type=float, default=30.0, help="REST submits/s")
    parser.add_argument("--smpp-rate", type=float, default=30.0, help="SMPP submits/s")
    parser.add_argument("--max-rss-growth", type=float, default=64.0, help="MiB after warm-up")
    parser.add_argument("--max-fd-growth", type=int, default=16)
    parser.add_argument("--max-drift", type=float, default=3.0, help="latency factor")
    parser.add_argument("--no-timing", action="store_true", help="correctness checks only")
    parser.add_argument("--postgres-dsn", default=None, help="PostgreSQL instead of SQLite")
    args = parser.parse_args(argv)
    if args.seconds < args.window or args.window < 1:
        parser.error("--seconds must be at least one --window (>= 1 s)")
    store_env: dict[str, str] = {}
    if args.postgres_dsn:
        store_env = {
            "GATEWAY_DATABASE_URL": args.postgres_dsn,
            "GATEWAY_DATABASE_SCHEMA": f"soak_{os.getpid()}_{int(time.time())}",
        }
    report = run_soak(
        SoakConfig(
            seconds=args.seconds,
            window=args.window,
            rest_rate=args.rest_rate,
            smpp_rate=args.smpp_rate,
            check_timing=not args.no_timing,
            max_rss_growth_mib=args.max_rss_growth,
            max_fd_growth=args.max_fd_growth,
            max_drift=args.max_drift,
            store_env=store_env,
            log=lambda line: print(line, flush=True),
        )
    )
    if report.ok:
        print("soak passed")
        return 0
    print("soak FAILED:\n  " + "\n  ".join(report.failures))
    if report.gateway_log is not None:
        print(f"gateway log: {report.gateway_log}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
