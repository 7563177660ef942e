"""cluster: one node, then two, on one PostgreSQL and one Redis, end to end.

Each run offers the same REST load (open loop, split evenly over the nodes), every message goes
to a simulator process over SMPP and comes back with a receipt, and the run ends when every
message is `delivered`. Reported per node count: delivered messages per second, the CPU each
gateway node and the PostgreSQL server spend per 1,000 messages, and from those the capacity
model of docs/scaling.md (messages per second one core of gateway can carry, and one core of
the PostgreSQL primary). Counts are summed over the nodes' /metrics: 202s = accepted = submitted
upstream = delivered, or the scenario fails.

On this 2-core machine the nodes, PostgreSQL, the simulator and the load generator share the
cores, so two nodes cannot be twice as fast here: the CPU per message is the figure that carries
over to a machine with more cores.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

import uvloop

from benchmarks.http_load import LoadResult, build_request, open_loop
from benchmarks.modes import Context
from benchmarks.pgschema import create_schema, drop_schema
from benchmarks.processes import GatewayProcess, SimulatorProcess
from benchmarks.prometheus import GatewayCounts
from benchmarks.report import ScenarioResult

BODY = json.dumps(
    {"to": "+4915112345678", "from": "Acme", "text": "Your parcel arrives today, 14:00-16:00."}
).encode()
BINDS = 2
WINDOW = 50


def _postgres_cpu() -> dict[int, float]:
    """CPU seconds of every process of the PostgreSQL server (backends, WAL writer,
    checkpointer) by pid, read from /proc: the store's share of the work, whoever started it.
    Run the scenario alone: other clients' backends count too."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, float] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue
        if stat[stat.index("(") + 1 : stat.rindex(")")].startswith("postgres"):
            fields = stat[stat.rindex(")") + 2 :].split()
            found[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick  # utime+stime
    return found


def _cpu_since(before: dict[int, float], after: dict[int, float]) -> float:
    # A backend that exited meanwhile is lost (undercount); one that started counts whole.
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def _counts(nodes: list[GatewayProcess]) -> GatewayCounts:
    counts = GatewayCounts(0, 0, 0)
    for node in nodes:
        c = GatewayCounts.read(node.url)
        counts = GatewayCounts(
            counts.accepted + c.accepted,
            counts.submitted + c.submitted,
            counts.delivered + c.delivered,
        )
    return counts


async def _measure(
    ctx: Context, result: ScenarioResult, log_dir: Path, node_count: int, schema: str
) -> None:
    count = ctx.mode.pick(full=6000, quick=1200, smoke=10)
    rate = ctx.mode.pick(full=600.0, quick=400.0, smoke=50.0)
    timeout = ctx.mode.pick(full=120.0, quick=60.0, smoke=30.0)
    simulator = SimulatorProcess(log_dir, receipt_delay=0.05)
    nodes: list[GatewayProcess] = []
    try:
        simulator.start()
        simulator.wait_ready()
        env = {
            "GATEWAY_DATABASE_SCHEMA": schema,
            "GATEWAY_REDIS_URL": ctx.redis_url,
            "GATEWAY_REDIS_PREFIX": f"bench:{schema}:{node_count}:",
            "GATEWAY_UPSTREAM": simulator.upstream_url(binds=BINDS, window=WINDOW),
        }
        for _ in range(node_count):
            key = {"GATEWAY_DEMO_KEY": nodes[0].key} if nodes else {}
            node = GatewayProcess(log_dir, database_url=ctx.postgres_dsn, **env, **key)
            node.start()
            node.wait_ready()  # one at a time: the first migrates the schema
            nodes.append(node)
        figures = result.figures
        label = f"{node_count} node{'s' if node_count > 1 else ''}"
        for run in range(ctx.runs):
            before = _counts(nodes)
            cpu0 = [n.cpu_seconds() for n in nodes]
            pg0 = _postgres_cpu()
            started = time.perf_counter()
            loads: list[LoadResult] = await asyncio.gather(
                *(
                    open_loop(
                        "127.0.0.1",
                        n.http_port,
                        build_request(
                            "POST",
                            "/v1/messages",
                            host=f"127.0.0.1:{n.http_port}",
                            body=BODY,
                            headers={
                                "Authorization": f"Bearer {nodes[0].key}",
                                "Content-Type": "application/json",
                            },
                        ),
                        rate=rate / node_count,
                        count=count // node_count,
                        connections=32,
                        timeout=timeout,
                    )
                    for n in nodes
                )
            )
            sent = (count // node_count) * node_count
            deadline = time.monotonic() + timeout
            delta = _counts(nodes) - before
            while delta.delivered < sent and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                delta = _counts(nodes) - before
            elapsed = time.perf_counter() - started
            gateway_cpu = sum(n.cpu_seconds() - c for n, c in zip(nodes, cpu0, strict=True))
            pg_cpu = _cpu_since(pg0, _postgres_cpu())
            per_k = 1000 / max(delta.delivered, 1)
            figures.record(
                f"{label}: delivered/s, {rate:g}/s offered", delta.delivered / elapsed, "msg/s"
            )
            figures.record(
                f"{label}: gateway CPU per 1k messages (all nodes)",
                gateway_cpu * per_k,
                "s",
                higher_is_better=False,
            )
            figures.record(
                f"{label}: PostgreSQL CPU per 1k messages",
                pg_cpu * per_k,
                "s",
                higher_is_better=False,
            )
            figures.record(
                f"{label}: messages/s per gateway core (capacity model)",
                delta.delivered / max(gateway_cpu, 1e-9),
                "msg/s",
            )
            figures.record(
                f"{label}: messages/s per PostgreSQL core (capacity model)",
                delta.delivered / max(pg_cpu, 1e-9),
                "msg/s",
            )
            accepted = sum(load.count(202) for load in loads)
            errors = sum(load.transport_errors for load in loads)
            run_counts = {
                "nodes": node_count,
                "sent": sent,
                "http_202": accepted,
                "accepted": delta.accepted,
                "submitted_upstream": delta.submitted,
                "delivered": delta.delivered,
                "transport_errors": errors,
            }
            result.details.setdefault("runs", []).append(run_counts)
            result.check(
                f"{label}, run {run + 1}: sent = 202 = accepted = submitted = delivered",
                sent == accepted == delta.accepted == delta.submitted == delta.delivered
                and not errors,
                json.dumps(run_counts),
            )
            result.runs = max(result.runs, run + 1)  # runs per node count
    finally:
        for node in nodes:
            node.stop()
        simulator.stop()
    for node in nodes:
        result.check(
            f"{node.name} exited cleanly",
            node.proc is not None and node.proc.returncode == 0,
            node.output_tail(5),
        )


async def _main(ctx: Context, result: ScenarioResult, log_dir: Path) -> None:
    schema = f"bench_cluster_{os.getpid()}"
    await create_schema(ctx.postgres_dsn, schema)
    try:
        for node_count in (1, 2):
            await _measure(ctx, result, log_dir, node_count, schema)
    finally:
        await drop_schema(ctx.postgres_dsn, schema)


def run(ctx: Context) -> ScenarioResult:
    result = ScenarioResult(
        "cluster",
        ctx.mode.name,
        f"1 and 2 gateway nodes on PostgreSQL + Redis -> simulator process, binds={BINDS} "
        f"window={WINDOW} per node",
    )
    result.details.update(postgres=ctx.postgres_dsn.split("@")[-1], redis=ctx.redis_url)
    with tempfile.TemporaryDirectory(dir=ctx.work_dir, prefix="bench-cluster-") as tmp:
        uvloop.run(_main(ctx, result, Path(tmp)))
    return result
