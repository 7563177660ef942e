"""backlog: REST intake while a million messages wait in the store, against intake with none.

The backlog is committed through the store's batch insert (`Store.insert_messages`, as an
intake commits a group), not yet owned by any node, for a carrier that is down: the gateway's
upstream points at a port nobody listens on, so its SMPP connector keeps reconnecting and
nothing leaves. The gateway is then started on that store; its dispatcher claims from the store
in batches up to its capacity (`GATEWAY_DISPATCH_CAPACITY`, 20,000 parts by default) and no
more, which the scenario checks in the store itself (parts held by a node <= capacity): a
dispatcher that read the whole backlog into memory would fail the run.

Each run starts a fresh gateway process twice: on an empty store, then on the backlog store,
and drives the same closed loop of `POST /v1/messages` into each (after the dispatcher has
taken its share of the backlog). Reported: accepted/s and latency p50/p99 with the backlog
against none (the ratio is the figure: the target is within 10%), the gateway's resident memory
right after start and after the load (growth while taking messages with the backlog queued),
and its memory with the backlog against without. Checks: every POST answered 202, and the
store holds the backlog plus every accepted message, still queued.

SQLite; PostgreSQL too with `--backlog-postgres` (a fresh schema, dropped afterwards; loading
a million messages into it takes about three minutes here, too long for every `make bench`).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import uvloop

from benchmarks.http_load import build_request, closed_loop
from benchmarks.messages import single_part_messages
from benchmarks.modes import Context
from benchmarks.pgschema import create_schema, drop_schema
from benchmarks.processes import GatewayProcess, free_port, rss_mib
from benchmarks.report import ScenarioResult, percentile
from gateway.domain import new_id
from gateway.store import Store, open_store

BODY = json.dumps(
    {"to": "+4915112345678", "from": "Acme", "text": "Your parcel arrives today, 14:00-16:00."}
).encode()
BACKLOG_TEXT = "Your code is 424242. It expires in 5 min."
INSERT_BATCH = 5000
CAPACITY = 20_000  # GATEWAY_DISPATCH_CAPACITY, the default, set explicitly
CONCURRENCY = 32


@dataclass(frozen=True)
class StoreTarget:
    label: str
    url: str
    schema: str | None = None  # PostgreSQL


@dataclass
class Phase:
    accepted: int
    sent: int
    transport_errors: int
    accepted_per_s: float
    p50_ms: float
    p99_ms: float
    rss_start_mib: float
    rss_end_mib: float
    held: int
    queued: int


async def _fill(store: Store, count: int) -> float:
    """Commit `count` messages, owned by no node, INSERT_BATCH per transaction; messages/s."""
    account = await store.create_account(
        account_id=new_id(), name=f"backlog-{uuid.uuid4().hex[:8]}", now=time.time()
    )
    started = time.perf_counter()
    done = 0
    while done < count:
        batch = single_part_messages(
            account.id, min(INSERT_BATCH, count - done), body=BACKLOG_TEXT, connector="upstream"
        )
        await store.insert_messages(batch, owner=None)
        done += len(batch)
    return count / (time.perf_counter() - started)


async def _queued(target: StoreTarget) -> tuple[int, int]:
    """(parts queued in the store, parts of them held in some node's memory)."""
    store = open_store(target.url, schema=target.schema)
    await store.open()
    try:
        lanes = await store.queue_lanes(now=time.time())
    finally:
        await store.close()
    return sum(lane.queued for lane in lanes), sum(lane.held for lane in lanes)


async def _settle(target: StoreTarget, expected_held: int, timeout: float) -> float:
    """Until the dispatcher holds what it will claim of the backlog (parts owned by a node, in
    the store), so the load does not race the first claims; bounded. Returns the seconds."""
    started = time.monotonic()
    while time.monotonic() < started + timeout:
        _, held = await _queued(target)
        if held >= expected_held:
            break
        await asyncio.sleep(0.5)
    return time.monotonic() - started


async def _phase(
    log_dir: Path,
    target: StoreTarget,
    *,
    backlog: int,
    load: dict[str, float],
) -> Phase:
    env = {
        # The carrier is down: nobody listens there, so nothing queued is ever sent.
        "GATEWAY_UPSTREAM": f"smpp://gateway:secret@127.0.0.1:{free_port()}",
        "GATEWAY_NODE_ID": f"bench-backlog-{uuid.uuid4().hex[:6]}",
        "GATEWAY_DISPATCH_CAPACITY": str(CAPACITY),
        "GATEWAY_SHUTDOWN_TIMEOUT": "1",
        "GATEWAY_LOG_LEVEL": "WARNING",
    }
    if target.schema:
        env["GATEWAY_DATABASE_SCHEMA"] = target.schema
    gateway = GatewayProcess(log_dir, database_url=target.url, **env)
    gateway.start()
    try:
        t0 = time.monotonic()
        gateway.wait_port("127.0.0.1", gateway.http_port, timeout=120)
        t1 = time.monotonic()
        settled = await _settle(target, min(backlog, CAPACITY), load["settle"])
        print(
            f"   gateway up in {t1 - t0:.1f}s, dispatcher settled in {settled:.1f}s",
            file=sys.stderr,
            flush=True,
        )
        request = build_request(
            "POST",
            "/v1/messages",
            host=f"127.0.0.1:{gateway.http_port}",
            body=BODY,
            headers={"Authorization": f"Bearer {gateway.key}", "Content-Type": "application/json"},
        )
        rss_start = rss_mib(gateway.pid)
        result = await closed_loop(
            "127.0.0.1",
            gateway.http_port,
            request,
            concurrency=int(load["concurrency"]),
            duration=load["duration"],
            max_requests=int(load["max_requests"]),
        )
        rss_end = rss_mib(gateway.pid)
        queued, held = await _queued(target)
    finally:
        t2 = time.monotonic()
        gateway.stop()
        print(f"   gateway stopped in {time.monotonic() - t2:.1f}s", file=sys.stderr, flush=True)
    ordered = sorted(result.latencies)
    return Phase(
        accepted=result.count(202),
        sent=result.answered + result.transport_errors,
        transport_errors=result.transport_errors,
        accepted_per_s=result.count(202) / result.elapsed,
        p50_ms=percentile(ordered, 50) * 1000,
        p99_ms=percentile(ordered, 99) * 1000,
        rss_start_mib=rss_start,
        rss_end_mib=rss_end,
        held=held,
        queued=queued,
    )


async def _analyze(dsn: str, schema: str) -> None:
    conn = await asyncpg.connect(dsn, server_settings={"search_path": schema})
    try:
        await conn.execute("ANALYZE parts")
        await conn.execute("ANALYZE messages")
    finally:
        await conn.close()


def _record(
    result: ScenarioResult, label: str, backlog: int, run: int, empty: Phase, full: Phase
) -> None:
    queued_label = f"{backlog:,} queued"
    f = result.figures
    f.record(f"{label}: intake accepted/s, {queued_label}", full.accepted_per_s, "msg/s")
    f.record_baseline(
        f"{label}: intake accepted/s, {queued_label}", empty.accepted_per_s, "msg/s", "(none)"
    )
    for name, attr in (("p50", "p50_ms"), ("p99", "p99_ms")):
        figure = f"{label}: intake latency {name}, {queued_label}"
        f.record(figure, getattr(full, attr), "ms", higher_is_better=False)
        f.record_baseline(figure, getattr(empty, attr), "ms", "(none)")
    f.record(
        f"{label}: gateway RSS growth during intake, {queued_label}",
        full.rss_end_mib - full.rss_start_mib,
        "MiB",
        higher_is_better=False,
        target=50.0,
    )
    rss_figure = f"{label}: gateway RSS after start, {queued_label}"
    f.record(rss_figure, full.rss_start_mib, "MiB", higher_is_better=False)
    f.record_baseline(rss_figure, empty.rss_start_mib, "MiB", "(none)")
    for kind, phase in (("none", empty), (queued_label, full)):
        result.check(
            f"run {run + 1}, {label}, {kind}: every POST answered 202",
            phase.accepted == phase.sent > 0 and not phase.transport_errors,
            f"{phase.accepted} of {phase.sent}, {phase.transport_errors} transport errors",
        )
        result.check(
            f"run {run + 1}, {label}, {kind}: the dispatcher holds at most its capacity "
            f"({CAPACITY:,}) of the queue in memory",
            phase.held <= CAPACITY,
            f"{phase.held:,} parts held by a node of {phase.queued:,} queued",
        )
    result.check(
        f"run {run + 1}, {label}, none: every accepted message is queued in the store",
        empty.queued == empty.accepted,
        f"{empty.queued:,} queued, {empty.accepted:,} accepted",
    )


async def _main(ctx: Context, result: ScenarioResult, log_dir: Path) -> None:
    backlog = ctx.mode.pick(full=1_000_000, quick=50_000, smoke=3000)
    load = {
        "concurrency": ctx.mode.pick(full=CONCURRENCY, quick=CONCURRENCY, smoke=4),
        "duration": ctx.mode.pick(full=10.0, quick=4.0, smoke=10.0),
        "max_requests": ctx.mode.pick(full=100_000, quick=20_000, smoke=50),
        "settle": ctx.mode.pick(full=120.0, quick=30.0, smoke=30.0),
    }
    result.details.update(backlog=backlog, capacity=CAPACITY, load=load, runs=[])
    targets = [("SQLite", "sqlite")]
    if ctx.backlog_postgres:
        targets.append(("PostgreSQL", "postgres"))
    for label, kind in targets:
        schemas: list[str] = []

        def new_target(name: str, kind: str = kind, schemas: list[str] = schemas) -> StoreTarget:
            if kind == "sqlite":
                return StoreTarget("SQLite", f"sqlite:///{log_dir}/{name}.db")
            schema = f"bench_backlog_{uuid.uuid4().hex[:10]}"
            schemas.append(schema)
            return StoreTarget("PostgreSQL", ctx.postgres_dsn, schema)

        try:
            full_target = new_target("backlog")
            if full_target.schema:
                await create_schema(ctx.postgres_dsn, full_target.schema)
            store = open_store(full_target.url, schema=full_target.schema)
            await store.open()
            try:
                await store.migrate()
                fill_rate = await _fill(store, backlog)
            finally:
                await store.close()
            if full_target.schema:
                # Statistics, as autovacuum would gather them after a load this size in
                # production. This machine's PostgreSQL runs with autovacuum off: without them
                # the planner reads the claim through parts_pending_owner, every unowned part
                # (1.6 s per claim at a million queued, against 12 ms with them).
                await _analyze(ctx.postgres_dsn, full_target.schema)
            result.figures.record(f"{label}: backlog batch insert", fill_rate, "msg/s")
            print(f"   {label}: {backlog:,} queued at {fill_rate:,.0f}/s", file=sys.stderr)
            accepted_into_backlog = 0
            for run in range(ctx.runs):
                empty_target = new_target(f"empty-{run}")
                if empty_target.schema:
                    await create_schema(ctx.postgres_dsn, empty_target.schema)
                empty = await _phase(log_dir, empty_target, backlog=0, load=load)
                full = await _phase(log_dir, full_target, backlog=backlog, load=load)
                accepted_into_backlog += full.accepted
                _record(result, label, backlog, run, empty, full)
                result.check(
                    f"run {run + 1}, {label}, {backlog:,} queued: the backlog and every accepted "
                    "message are still queued in the store",
                    full.queued == backlog + accepted_into_backlog,
                    f"{full.queued:,} queued, {backlog:,} + {accepted_into_backlog:,} expected",
                )
                result.details["runs"].append(
                    {"store": label, "none": empty.__dict__, "backlog": full.__dict__}
                )
                print(
                    f"   run {run + 1} {label}: none {empty.accepted_per_s:.0f}/s "
                    f"p99 {empty.p99_ms:.1f} ms; {backlog:,} queued "
                    f"{full.accepted_per_s:.0f}/s p99 {full.p99_ms:.1f} ms, RSS "
                    f"{full.rss_start_mib:.0f} -> {full.rss_end_mib:.0f} MiB",
                    file=sys.stderr,
                    flush=True,
                )
        finally:
            for schema in schemas:
                await drop_schema(ctx.postgres_dsn, schema)
    result.runs = ctx.runs


def run(ctx: Context) -> ScenarioResult:
    result = ScenarioResult(
        "backlog",
        ctx.mode.name,
        f"REST intake, closed loop {CONCURRENCY}, with a committed backlog queued for a carrier "
        "that is down vs none",
    )
    with tempfile.TemporaryDirectory(dir=ctx.work_dir, prefix="bench-backlog-") as tmp:
        uvloop.run(_main(ctx, result, Path(tmp)))
    return result
