"""kannel: Kannel and our gateway side by side, same carrier, same load, receipts on.

`make bench-kannel` (`python -m benchmarks kannel`); not part of `make bench` or `make test`,
since it installs a Debian package. One SMSC simulator process (`python -m gateway simulate`,
receipts after 50 ms, as end-to-end-rest uses) serves three systems in turn, each started fresh
for each run and each run interleaved with the others so machine noise hits them alike:

- Kannel 1.4.5 (bearerbox + smsbox), memory only (no `store-type`): messages in by HTTP
  `GET /cgi-bin/sendsms` on keep-alive connections, each with `dlr-mask=3` (delivered or not)
  and a `dlr-url` naming the message, which smsbox calls when the receipt comes back;
- the same Kannel with `store-type = file`, its optional on-disk queue;
- our gateway (SQLite, commit before the 202): `POST /v1/messages`, delivered counted on
  /metrics, latency per message read from the store (created_at to done_at).

Both get the same closed loops (`CONCURRENCY` keep-alive connections sending back to back for
a duration: 64, where Kannel already runs at its capacity, and 256, which our gateway needs to
fill its group commits) and the same upstream shape (2 binds, window 50). Reported per system:
accepted/s (while the load ran), delivered/s (receipts: from the first send to the last
receipt), CPU milliseconds per message (Kannel: bearerbox + smsbox; ours: the gateway process;
from /proc/PID/stat), peak RSS, and the latency to the receipt, p50 and p99 (Kannel: from the
sendsms request to the dlr-url call; ours: from the commit at intake to the commit of
`delivered`, as recorded in the store). Every accepted message must get its DELIVRD receipt
exactly once, on both sides, or the run fails.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

import uvloop

from benchmarks.dlr_receiver import DLR_DELIVERED, DlrReceiver
from benchmarks.http_load import LoadResult, build_request, closed_loop
from benchmarks.kannel import KannelProcesses, install_kannel, write_config
from benchmarks.modes import Context
from benchmarks.processes import GatewayProcess, SimulatorProcess
from benchmarks.prometheus import GatewayCounts
from benchmarks.report import ScenarioResult, format_number, percentile

BINDS = 2
WINDOW = 50
RECEIPT_DELAY = 0.05
CONCURRENCY = (64, 256)
TO = "4915112345678"
SENDER = "Acme"
TEXT = "Your parcel arrives today, 14:00-16:00."
BODY = json.dumps({"to": "+" + TO, "from": SENDER, "text": TEXT}).encode()
KANNEL = "Kannel"
KANNEL_STORE = "Kannel store-file"
OURS = "gateway (SQLite)"


@dataclass
class Run:
    """One system's figures for one run."""

    system: str
    concurrency: int
    sent: int
    accepted: int
    delivered: int
    accepted_per_s: float
    delivered_per_s: float
    cpu_ms_per_msg: float
    simulator_cpu_ms_per_msg: float
    peak_rss_mib: float
    latency_p50_ms: float
    latency_p99_ms: float
    transport_errors: int
    other_statuses: dict[int, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _latency_ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return percentile(ordered, 50) * 1000, percentile(ordered, 99) * 1000


async def _run_kannel(
    log_dir: Path,
    simulator: SimulatorProcess,
    binaries: tuple[str, str],
    *,
    store_file: bool,
    run: int,
    load: dict[str, float],
) -> Run:
    system = KANNEL_STORE if store_file else KANNEL
    config = write_config(
        log_dir / f"kannel-{run}-{'store' if store_file else 'mem'}",
        smpp_port=simulator.port,
        system_id=simulator.system_id,
        password=simulator.password,
        binds=BINDS,
        window=WINDOW,
        store_file=store_file,
    )
    kannel = KannelProcesses(config, *binaries)
    receiver = DlrReceiver()
    await receiver.start()
    try:
        await asyncio.to_thread(kannel.start, binds=BINDS)
        host = f"127.0.0.1:{config.sendsms_port}"
        prefix = "/cgi-bin/sendsms?" + urlencode(
            {
                "username": config.username,
                "password": config.password,
                "to": TO,
                "from": SENDER,
                "text": TEXT,
                "dlr-mask": "3",
            }
        )
        sent_at: dict[int, float] = {}
        accepted: set[int] = set()
        statuses: dict[int, int] = {}

        def request(n: int) -> bytes:
            dlr_url = quote(f"{receiver.url}?n={n}&type=%d", safe="")
            sent_at[n] = time.perf_counter()
            return build_request("GET", f"{prefix}&dlr-url={dlr_url}", host=host)

        def answered(n: int, status: int) -> None:
            if status == 202:
                accepted.add(n)
            else:
                statuses[status] = statuses.get(status, 0) + 1

        cpu0, sim_cpu0 = kannel.cpu_seconds(), simulator.cpu_seconds()
        result = await closed_loop(
            "127.0.0.1",
            config.sendsms_port,
            request,
            concurrency=int(load["concurrency"]),
            duration=load["duration"],
            max_requests=int(load["max_requests"]),
            on_answer=answered,
        )
        await receiver.wait_delivered(len(accepted), load["receipt_timeout"])
        # A moment for stray receipts (duplicates, or for messages never accepted) to show.
        await asyncio.sleep(0.3)
        cpu = kannel.cpu_seconds() - cpu0
        sim_cpu = simulator.cpu_seconds() - sim_cpu0
        delivered = len(receiver.delivered_at)
        last = max(receiver.delivered_at.values(), default=result.finished)
        latencies = [t - sent_at[n] for n, t in receiver.delivered_at.items() if n in sent_at]
        p50, p99 = _latency_ms(latencies)
        problems: list[str] = []
        if set(receiver.delivered_at) != accepted:
            missing = len(accepted - set(receiver.delivered_at))
            extra = len(set(receiver.delivered_at) - accepted)
            problems.append(f"{missing} accepted without receipt, {extra} receipts not accepted")
        if receiver.duplicates:
            problems.append(f"{receiver.duplicates} duplicate DELIVRD receipts")
        others = {k: v for k, v in receiver.types.items() if k != DLR_DELIVERED}
        if others or receiver.malformed:
            problems.append(f"other receipt types {others}, malformed {receiver.malformed}")
        return _figures(
            system,
            int(load["concurrency"]),
            result,
            accepted=len(accepted),
            delivered=delivered,
            last_delivery=last,
            cpu=cpu,
            sim_cpu=sim_cpu,
            peak_rss=kannel.peak_rss_mib(),
            latency=(p50, p99),
            other_statuses=statuses,
            problems=problems,
        )
    finally:
        await receiver.close()
        await asyncio.to_thread(kannel.stop)


async def _run_ours(
    log_dir: Path, simulator: SimulatorProcess, *, run: int, load: dict[str, float]
) -> Run:
    db = log_dir / f"gateway-{run}.db"
    gateway = GatewayProcess(
        log_dir,
        database_url=f"sqlite:///{db}",
        GATEWAY_UPSTREAM=simulator.upstream_url(binds=BINDS, window=WINDOW),
        GATEWAY_LOG_LEVEL="WARNING",
    )
    try:
        gateway.start()
        await asyncio.to_thread(gateway.wait_ready)
        request = build_request(
            "POST",
            "/v1/messages",
            host=f"127.0.0.1:{gateway.http_port}",
            body=BODY,
            headers={"Authorization": f"Bearer {gateway.key}", "Content-Type": "application/json"},
        )
        before = await asyncio.to_thread(GatewayCounts.read, gateway.url)
        wall0 = time.time()
        cpu0, sim_cpu0 = gateway.cpu_seconds(), simulator.cpu_seconds()
        result = await closed_loop(
            "127.0.0.1",
            gateway.http_port,
            request,
            concurrency=int(load["concurrency"]),
            duration=load["duration"],
            max_requests=int(load["max_requests"]),
        )
        accepted = result.count(202)
        counts = await asyncio.to_thread(GatewayCounts.read, gateway.url)
        deadline = time.monotonic() + load["receipt_timeout"]
        while (counts - before).delivered < accepted and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            counts = await asyncio.to_thread(GatewayCounts.read, gateway.url)
        last = time.perf_counter()
        cpu = gateway.cpu_seconds() - cpu0
        sim_cpu = simulator.cpu_seconds() - sim_cpu0
        delta = counts - before
        latencies = _store_latencies(db, wall0)
        p50, p99 = _latency_ms(latencies)
        problems: list[str] = []
        if not accepted == delta.accepted == delta.submitted == delta.delivered:
            problems.append(
                f"202 {accepted}, accepted {delta.accepted:g}, submitted {delta.submitted:g}, "
                f"delivered {delta.delivered:g}"
            )
        if len(latencies) != accepted:
            problems.append(f"{len(latencies)} delivered rows in the store for {accepted} 202s")
        return _figures(
            OURS,
            int(load["concurrency"]),
            result,
            accepted=accepted,
            delivered=int(delta.delivered),
            last_delivery=last,
            cpu=cpu,
            sim_cpu=sim_cpu,
            peak_rss=gateway.peak_rss_mib(),
            latency=(p50, p99),
            other_statuses={k: v for k, v in result.statuses.items() if k != 202},
            problems=problems,
        )
    finally:
        await asyncio.to_thread(gateway.stop)


def _store_latencies(db: Path, since: float) -> list[float]:
    """Seconds from acceptance (the message row's created_at) to `delivered` (done_at), for
    every message delivered that was created since `since` (wall clock)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT done_at - created_at FROM messages "
            "WHERE status = 'delivered' AND created_at >= ?",
            (since,),
        ).fetchall()
    finally:
        conn.close()
    return [float(r[0]) for r in rows]


def _figures(
    system: str,
    concurrency: int,
    load: LoadResult,
    *,
    accepted: int,
    delivered: int,
    last_delivery: float,
    cpu: float,
    sim_cpu: float,
    peak_rss: float,
    latency: tuple[float, float],
    other_statuses: dict[int, int],
    problems: list[str],
) -> Run:
    return Run(
        system=system,
        concurrency=concurrency,
        sent=load.answered + load.transport_errors,
        accepted=accepted,
        delivered=delivered,
        accepted_per_s=accepted / load.elapsed,
        delivered_per_s=delivered / max(last_delivery - load.started, 1e-9),
        cpu_ms_per_msg=cpu * 1000 / max(delivered, 1),
        simulator_cpu_ms_per_msg=sim_cpu * 1000 / max(delivered, 1),
        peak_rss_mib=peak_rss,
        latency_p50_ms=latency[0],
        latency_p99_ms=latency[1],
        transport_errors=load.transport_errors,
        other_statuses=other_statuses,
        problems=problems,
    )


# (figure, Run attribute, unit, higher is better)
FIGURES = (
    ("accepted/s", "accepted_per_s", "msg/s", True),
    ("delivered (receipts)/s", "delivered_per_s", "msg/s", True),
    ("CPU per message", "cpu_ms_per_msg", "ms", False),
    ("peak RSS", "peak_rss_mib", "MiB", False),
    ("latency to receipt p50", "latency_p50_ms", "ms", False),
    ("latency to receipt p99", "latency_p99_ms", "ms", False),
    ("simulator CPU per message", "simulator_cpu_ms_per_msg", "ms", False),
)


def _record(result: ScenarioResult, runs: list[Run]) -> None:
    """Our values as the figures, each Kannel variant's as the baseline: one figure per
    (concurrency, Kannel variant, measure)."""
    groups: dict[tuple[int, str], list[Run]] = {}
    for r in runs:
        groups.setdefault((r.concurrency, r.system), []).append(r)
    for concurrency in sorted({r.concurrency for r in runs}):
        ours = groups.get((concurrency, OURS), [])
        for baseline in (KANNEL, KANNEL_STORE):
            theirs = groups.get((concurrency, baseline), [])
            if not ours or not theirs:
                continue
            for name, attr, unit, higher in FIGURES:
                figure = f"{name}, {concurrency} conn, vs {baseline}"
                for r in ours:
                    result.figures.record(figure, getattr(r, attr), unit, higher_is_better=higher)
                for r in theirs:
                    result.figures.record_baseline(figure, getattr(r, attr), unit, f"({baseline})")


def side_by_side(runs: list[Run]) -> str:
    """A Markdown table: a row per (concurrency, figure), a column per system (median, min -
    max over runs), and the ratio ours/Kannel for each Kannel variant."""
    systems = [s for s in (OURS, KANNEL, KANNEL_STORE) if any(r.system == s for r in runs)]
    others = [s for s in systems if s != OURS]
    lines = [
        "| load | figure | " + " | ".join(systems + [f"ours/{s}" for s in others]) + " |",
        "|---|---|" + "---|" * (len(systems) + len(others)),
    ]
    for concurrency in sorted({r.concurrency for r in runs}):
        for name, attr, unit, _ in FIGURES:
            medians: dict[str, float] = {}
            cells = []
            for s in systems:
                values = [
                    getattr(r, attr) for r in runs if (r.system, r.concurrency) == (s, concurrency)
                ]
                if not values:
                    cells.append("n/a")
                    continue
                medians[s] = statistics.median(values)
                cells.append(
                    f"{format_number(medians[s])} {unit} "
                    f"({format_number(min(values))} - {format_number(max(values))})"
                )
            ratios = [
                f"{medians[OURS] / medians[s]:.2f}x"
                if medians.get(OURS) and medians.get(s)
                else "n/a"
                for s in others
            ]
            lines.append(f"| {concurrency} conn | {name} | " + " | ".join(cells + ratios) + " |")
    return "\n".join(lines)


def _check(result: ScenarioResult, run: int, r: Run) -> None:
    print(
        f"   run {run + 1}, {r.concurrency} conn, {r.system}: {r.accepted} accepted "
        f"{r.accepted_per_s:.0f}/s, {r.delivered} receipts {r.delivered_per_s:.0f}/s, "
        f"{r.cpu_ms_per_msg:.2f} ms CPU/msg",
        file=sys.stderr,
        flush=True,
    )
    counts = {
        "accepted": r.accepted,
        "delivered": r.delivered,
        "transport_errors": r.transport_errors,
        "other_statuses": r.other_statuses,
        "problems": r.problems,
    }
    result.check(
        f"run {run + 1}, {r.concurrency} conn, {r.system}: every accepted message got its "
        "receipt, once",
        not r.problems
        and r.accepted == r.delivered > 0
        and not r.transport_errors
        and not r.other_statuses,
        json.dumps(counts),
    )


def _concurrencies(ctx: Context) -> tuple[int, ...]:
    return ctx.mode.pick(full=CONCURRENCY, quick=CONCURRENCY[:1], smoke=(4,))


async def _main(ctx: Context, result: ScenarioResult, log_dir: Path) -> None:
    concurrencies = _concurrencies(ctx)
    base_load = {
        "duration": ctx.mode.pick(full=20.0, quick=5.0, smoke=10.0),
        "max_requests": ctx.mode.pick(full=200_000, quick=50_000, smoke=20),
        "receipt_timeout": ctx.mode.pick(full=120.0, quick=60.0, smoke=30.0),
    }
    result.details.update(
        load=base_load,
        concurrencies=concurrencies,
        binds=BINDS,
        window=WINDOW,
        receipt_delay=RECEIPT_DELAY,
        dlr_mask=3,
    )
    binaries = install_kannel()
    result.details["kannel"] = {"bearerbox": binaries[0], "smsbox": binaries[1]}
    simulator = SimulatorProcess(log_dir, receipt_delay=RECEIPT_DELAY)
    runs: list[Run] = []
    try:
        simulator.start()
        await asyncio.to_thread(simulator.wait_ready)
        for run in range(ctx.runs):
            for concurrency in concurrencies:
                load = {**base_load, "concurrency": float(concurrency)}
                for system in (KANNEL, KANNEL_STORE, OURS):
                    if system == OURS:
                        r = await _run_ours(log_dir, simulator, run=run, load=load)
                    else:
                        r = await _run_kannel(
                            log_dir,
                            simulator,
                            binaries,
                            store_file=system == KANNEL_STORE,
                            run=run,
                            load=load,
                        )
                    runs.append(r)
                    _check(result, run, r)
            result.runs += 1
    finally:
        simulator.stop()
    result.details["runs"] = [r.__dict__ for r in runs]
    _record(result, runs)
    if runs:
        table = side_by_side(runs)
        result.details["side_by_side"] = table
        print("\n" + table + "\n", flush=True)


def run(ctx: Context) -> ScenarioResult:
    result = ScenarioResult(
        "kannel",
        ctx.mode.name,
        "ours (SQLite) vs Kannel 1.4.5, closed loops of "
        + " and ".join(map(str, _concurrencies(ctx)))
        + " connections, simulator "
        f"process upstream ({BINDS} binds, window {WINDOW}), receipts on",
    )
    with tempfile.TemporaryDirectory(dir=ctx.work_dir, prefix="bench-kannel-") as tmp:
        uvloop.run(_main(ctx, result, Path(tmp)))
    return result
