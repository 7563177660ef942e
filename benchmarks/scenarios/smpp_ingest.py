"""smpp-ingest: an aggregator's load over SMPP: submit_sm through 1 or 4 binds with a window of
10 or 100, counting submit_sm_resp and the deliver_sm receipts that come back.

The target is a parameter (`--smpp-target`): until the gateway's SMPP server exists, the
default is the built-in simulator run alone (`python -m gateway simulate`, system_id "gateway"),
which stands in for it and marks what the generator and the protocol code cost; `gateway` starts
the gateway and binds as the demo account (system_id "demo", GATEWAY_DEMO_SMPP_PASSWORD);
`external` sends to an SMSC already running at `--smpp-address`.

With the gateway as target the scenario runs twice: on SQLite (every configuration), then on
PostgreSQL (`--postgres-dsn`, a schema of its own; its figures are prefixed "PostgreSQL"), since
the throughput target holds for both stores; and on each store once more with two gateway
processes (`GATEWAY_WORKERS=2`, prefixed "SQLite 2 workers" and "PostgreSQL 2 workers"), the
4-bind load only: one Python process is one core, and the supervisor deals the binds to the
workers in turn (on SQLite their writes take turns on the database's writer lock).

Baseline, in the same run whatever the target: `benchmarks.bare_smsc`, a uvloop server that
answers every PDU from its 16-octet header (no parsing, no receipts, no store), loaded by the
same generator with the same binds and window right after each target load. The target's
submit_sm_resp OK/s is reported as a ratio of it (the issue's target: at least half of it at
window 100).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import uvloop

from benchmarks.modes import Context, SmppTarget
from benchmarks.pgschema import create_schema, drop_schema
from benchmarks.processes import (
    BareSmscProcess,
    GatewayProcess,
    ManagedProcess,
    SimulatorProcess,
)
from benchmarks.prometheus import GatewayCounts
from benchmarks.report import ScenarioResult
from benchmarks.smpp_load import SmppLoadResult, run_load

Config = tuple[Literal["transceiver", "transmitter"], int, int]  # bind mode, binds, window

BARE = "(bare uvloop TCP)"
BARE_SHARE_TARGET = 50.0  # % of the bare baseline's rate at window 100 (issue #10)


@dataclass(frozen=True)
class Store:
    """The gateway's store for a pass of the scenario (the issue's target holds for both)."""

    kind: Literal["sqlite", "postgresql"]
    label: str  # in the report: "SQLite", "PostgreSQL"
    prefix: str  # before each figure's name: "" for SQLite, the first pass
    schema: str = ""  # PostgreSQL: a schema of its own, dropped after the pass
    workers: int = 1  # GATEWAY_WORKERS: the supervisor deals the binds to them in turn


@dataclass
class _Endpoint:
    label: str
    host: str
    port: int
    system_id: str
    password: str
    process: ManagedProcess | None = None  # measured when we started it
    gateway_url: str | None = None  # counts cross-checked on /metrics
    upstream: ManagedProcess | None = None  # the gateway's SMSC, in a process of its own


def _start(target: SmppTarget, log_dir: Path, store: Store, postgres_dsn: str) -> _Endpoint:
    if target.kind == "simulator":
        sim = SimulatorProcess(log_dir)
        sim.start()
        sim.wait_ready()
        return _Endpoint(
            "built-in simulator process (stand-in for the gateway's SMPP server)",
            "127.0.0.1",
            sim.port,
            target.system_id or sim.system_id,
            target.password or sim.password,
            sim,
        )
    if target.kind == "gateway":
        password = (
            target.password
            or os.environ.get("GATEWAY_DEMO_SMPP_PASSWORD")
            or "bn" + secrets.token_hex(3)  # SMPP 3.4: passwords are at most 8 octets
        )
        # The upstream simulator runs as its own process, as a carrier would: the gateway's
        # CPU figures are then the gateway's alone.
        upstream = SimulatorProcess(log_dir)
        upstream.start()
        upstream.wait_ready()
        database: dict[str, str] = (
            {"database_url": f"sqlite:///{log_dir}/gateway.db"}
            if store.kind == "sqlite"
            else {"database_url": postgres_dsn, "GATEWAY_DATABASE_SCHEMA": store.schema}
        )
        gateway = GatewayProcess(
            log_dir,
            **database,
            GATEWAY_DEMO_SMPP_PASSWORD=password,
            GATEWAY_UPSTREAM=upstream.upstream_url(binds=2, window=100),
            GATEWAY_WORKERS=str(store.workers),
        )
        gateway.start()
        gateway.wait_ready()
        try:
            gateway.wait_port("127.0.0.1", gateway.smpp_port, timeout=10)
        except RuntimeError:
            gateway.stop()
            upstream.stop()
            raise RuntimeError(
                f"the gateway's SMPP server is not listening on GATEWAY_SMPP_PORT="
                f"{gateway.smpp_port} (is gateway/smpp_server built yet?)"
            ) from None
        return _Endpoint(
            f"gateway process SMPP server ({store.label}, simulator process upstream)",
            "127.0.0.1",
            gateway.smpp_port,
            target.system_id or "demo",
            password,
            gateway,
            # Each worker has its own /metrics: with several, the receipts are the count check.
            gateway.url if store.workers == 1 else None,
            upstream,
        )
    host, _, port = target.address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError("--smpp-address must be host:port for --smpp-target external")
    return _Endpoint(
        f"external SMSC at {target.address}",
        host,
        int(port),
        target.system_id or "demo",
        target.password or os.environ.get("GATEWAY_DEMO_SMPP_PASSWORD", ""),
    )


async def _bare_load(
    bare: BareSmscProcess,
    mode: Literal["transceiver", "transmitter"],
    binds: int,
    window: int,
    count: int,
    duration: float,
) -> tuple[SmppLoadResult, float]:
    """The same load against the bare SMSC; it sends no receipts, so none is waited for."""
    cpu0 = bare.cpu_seconds()
    load = await run_load(
        "127.0.0.1",
        bare.port,
        system_id="bench",
        password="bench",
        binds=binds,
        window=window,
        mode=mode,
        count=count,
        duration=duration,
        receipt_timeout=0.0,
    )
    return load, bare.cpu_seconds() - cpu0


def _configs(ctx: Context, store: Store) -> list[Config]:
    if store.workers > 1:  # the target's load only
        return ctx.mode.pick(
            full=[("transmitter", 4, 100)], quick=[("transmitter", 4, 100)], smoke=[]
        )
    if store.kind == "postgresql":  # the target's load and the single-bind latency
        return ctx.mode.pick(
            full=[("transceiver", 1, 10), ("transmitter", 4, 100)],
            quick=[("transmitter", 4, 100)],
            smoke=[("transceiver", 1, 10)],
        )
    return ctx.mode.pick(
        full=[
            ("transceiver", 1, 10),
            ("transceiver", 1, 100),
            ("transceiver", 4, 10),
            ("transceiver", 4, 100),
            ("transmitter", 4, 100),
        ],
        quick=[("transceiver", 1, 10), ("transmitter", 4, 100)],
        smoke=[("transceiver", 1, 10), ("transmitter", 2, 10)],
    )


async def _main(
    ctx: Context,
    result: ScenarioResult,
    endpoint: _Endpoint,
    bare: BareSmscProcess,
    store: Store,
) -> None:
    configs = _configs(ctx, store)
    count = ctx.mode.pick(full=30_000, quick=4_000, smoke=20)
    duration = ctx.mode.pick(full=5.0, quick=1.0, smoke=10.0)
    receipt_timeout = ctx.mode.pick(full=30.0, quick=15.0, smoke=10.0)
    process = endpoint.process
    figures = result.figures
    for run in range(ctx.runs):
        for mode, binds, window in configs:
            name = f"{store.prefix}{'trx' if mode == 'transceiver' else 'tx+rx'} {binds}x w{window}"
            before = GatewayCounts.read(endpoint.gateway_url) if endpoint.gateway_url else None
            cpu0 = process.cpu_seconds() if process else 0.0
            load = await run_load(
                endpoint.host,
                endpoint.port,
                system_id=endpoint.system_id,
                password=endpoint.password,
                binds=binds,
                window=window,
                mode=mode,
                count=count,
                duration=duration,
                receipt_timeout=receipt_timeout,
            )
            cpu = (process.cpu_seconds() - cpu0) if process else None
            base, base_cpu = await _bare_load(bare, mode, binds, window, count, duration)
            figures.record(f"{name}: submit_sm_resp OK/s", load.submit_rate, "msg/s")
            figures.record_baseline(f"{name}: submit_sm_resp OK/s", base.submit_rate, "msg/s", BARE)
            figures.record(
                f"{name}: share of the bare uvloop TCP rate",
                load.submit_rate / max(base.submit_rate, 1e-9) * 100,
                "%",
                target=BARE_SHARE_TARGET if window >= 100 else None,
            )
            figures.record(
                f"{name}: receipts/s (first submit to last receipt)", load.receipt_rate, "msg/s"
            )
            figures.record_latencies(
                f"{name}: submit_sm", load.latencies, baseline=base.latencies, baseline_label=BARE
            )
            if cpu is not None:
                figures.record(
                    f"{name}: target CPU per 1k messages",
                    cpu / max(load.ok, 1) * 1000,
                    "s",
                    higher_is_better=False,
                )
                figures.record_baseline(
                    f"{name}: target CPU per 1k messages",
                    base_cpu / max(base.ok, 1) * 1000,
                    "s",
                    BARE,
                )
            figures.record(
                f"{name}: load generator CPU",
                load.generator_cpu / load.wall * 100,
                "% core",
                higher_is_better=False,
            )
            # Near 100% the generator, not the bare server, sets the baseline's rate.
            figures.record_baseline(
                f"{name}: load generator CPU", base.generator_cpu / base.wall * 100, "% core", BARE
            )
            counts = {
                "submitted": load.submitted,
                "responses": {str(k): v for k, v in load.responses.items()},
                "ok": load.ok,
                "timeouts": load.timeouts,
                "receipts": load.receipts,
                "receipts_matched": load.matched_receipts,
                "other_deliver_sm": load.other_deliver_sm,
            }
            label = f"run {run + 1}, {name}"
            result.check(
                f"{label}: every submit_sm answered OK",
                load.submitted == load.answered == load.ok > 0 and not load.timeouts,
                str(counts),
            )
            result.check(
                f"{label}: bare baseline answered every submit_sm OK",
                base.submitted == base.answered == base.ok > 0 and not base.timeouts,
                f"submitted {base.submitted}, responses {dict(base.responses)}, "
                f"timeouts {base.timeouts}",
            )
            result.check(
                f"{label}: a receipt per accepted submit",
                load.matched_receipts == load.ok == load.receipts,
                str(counts),
            )
            if endpoint.gateway_url and before is not None:
                delta = GatewayCounts.read(endpoint.gateway_url) - before
                counts["gateway_accepted"] = int(delta.accepted)
                result.check(
                    f"{label}: gateway accepted = submit_sm_resp OK",
                    delta.accepted == load.ok,
                    str(counts),
                )
            result.details.setdefault("runs", []).append(
                {
                    "config": name,
                    **counts,
                    "bare_baseline": {
                        "submitted": base.submitted,
                        "ok": base.ok,
                        "submit_rate": base.submit_rate,
                    },
                }
            )
        result.runs = max(result.runs, run + 1)
    if process is not None and store.workers == 1:  # with workers: the supervisor's alone
        figures.record(
            f"{store.prefix}target peak RSS", process.peak_rss_mib(), "MiB", higher_is_better=False
        )
        figures.record_baseline(f"{store.prefix}target peak RSS", bare.peak_rss_mib(), "MiB", BARE)


def _stores(ctx: Context) -> list[Store]:
    stores = [Store("sqlite", "SQLite", "")]
    if ctx.smpp_target.kind == "gateway":  # only a gateway we start has a store to choose
        if ctx.mode.name != "smoke":
            stores.append(
                Store("sqlite", "SQLite, 2 worker processes", "SQLite 2 workers ", workers=2)
            )
        schema = f"bench_smpp_{os.getpid()}"
        stores.append(Store("postgresql", "PostgreSQL", "PostgreSQL ", schema))
        if ctx.mode.name != "smoke":  # test_workers covers the supervisor's deal in make test
            stores.append(
                Store(
                    "postgresql",
                    "PostgreSQL, 2 worker processes",
                    "PostgreSQL 2 workers ",
                    f"{schema}_w",
                    workers=2,
                )
            )
    return stores


def _pass(ctx: Context, result: ScenarioResult | None, store: Store, tmp: Path) -> ScenarioResult:
    endpoint = _start(ctx.smpp_target, tmp, store, ctx.postgres_dsn)
    if result is None:
        result = ScenarioResult("smpp-ingest", ctx.mode.name, endpoint.label)
        result.details["target"] = {
            "kind": ctx.smpp_target.kind,
            "address": f"{endpoint.host}:{endpoint.port}",
            "system_id": endpoint.system_id,
        }
    else:
        result.target += f"; then {endpoint.label}"
    bare = BareSmscProcess(tmp)
    try:
        bare.start()
        bare.wait_ready()
        uvloop.run(_main(ctx, result, endpoint, bare, store))
    finally:
        bare.stop()
        if endpoint.process is not None:
            endpoint.process.stop()
        if endpoint.upstream is not None:
            endpoint.upstream.stop()
    return result


def run(ctx: Context) -> ScenarioResult:
    result: ScenarioResult | None = None
    for store in _stores(ctx):
        with tempfile.TemporaryDirectory(dir=ctx.work_dir, prefix="bench-smpp-") as tmp:
            if store.kind == "postgresql":
                asyncio.run(create_schema(ctx.postgres_dsn, store.schema))
            try:
                result = _pass(ctx, result, store, Path(tmp))
            finally:
                if store.kind == "postgresql":
                    asyncio.run(drop_schema(ctx.postgres_dsn, store.schema))
    assert result is not None
    return result
