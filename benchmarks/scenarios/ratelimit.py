"""ratelimit: what a `RateLimiter.acquire` costs, and whether the limit holds, per backend.

Cost: microseconds per segment for a limit that never makes the caller wait, so only the
limiter's own work is timed: `MemoryRateLimiter` against the await of an empty coroutine (the
least any `acquire` costs), and `RedisRateLimiter` with its batches (up to 256 segments per
round trip) against the same limiter with `max_batch=1`, a Redis round trip per segment.

Accuracy: senders that acquire one segment at a time as fast as the limit lets them, for a fixed
window, at 500/s and 5,000/s (burst: 10 ms of the rate): achieved over configured rate. One
process (memory, Redis) and two OS processes on one limit (Redis: the two share it; memory: each
process has its own, so two processes send twice the rate, which is why the Redis backend
exists). Redis round trips per 1,000 segments show the batching.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import redis.asyncio as aioredis
import uvloop

from benchmarks.modes import Context
from benchmarks.report import ScenarioResult
from gateway.ratelimit import MemoryRateLimiter, RateLimiter
from gateway.ratelimit.shared import RedisRateLimiter

RATES = (500.0, 5000.0)
BURST_SECONDS = 0.01
NEVER_WAITS = 1e9  # segments/s: acquire never sleeps, so its cost is the limiter's own


@dataclass(frozen=True)
class Case:
    backend: str  # "memory" | "redis"
    rate: float
    start_offset: float  # seconds after the common start


@dataclass(frozen=True)
class Outcome:
    taken: int
    redis_calls: int
    degraded: bool


def _open(backend: str, client: aioredis.Redis, prefix: str) -> RateLimiter:
    if backend == "memory":
        return MemoryRateLimiter()
    return RedisRateLimiter(client, prefix=prefix)


async def _hammer(limiter: RateLimiter, key: str, start_at: float, seconds: float) -> int:
    """From wall-clock `start_at`, take one segment at a time for `seconds`: the count taken."""
    await asyncio.sleep(max(0.0, start_at - time.time()))
    deadline = time.monotonic() + (start_at + seconds - time.time())
    taken = 0
    while True:
        await limiter.acquire(key)
        if time.monotonic() >= deadline:
            return taken
        taken += 1


async def _run_cases(
    redis_url: str, prefix: str, cases: list[Case], start_at: float, seconds: float
) -> list[Outcome]:
    client = aioredis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    outcomes = []
    try:
        await client.ping()  # connected before the clock starts
        for case in cases:
            limiter = _open(case.backend, client, prefix)
            key = f"{case.backend}-{case.rate:g}"
            limiter.configure(key, case.rate, burst=max(1.0, case.rate * BURST_SECONDS))
            taken = await _hammer(limiter, key, start_at + case.start_offset, seconds)
            calls = limiter.redis_calls if isinstance(limiter, RedisRateLimiter) else 0
            degraded = isinstance(limiter, RedisRateLimiter) and limiter.degraded
            outcomes.append(Outcome(taken, calls, degraded))
            await limiter.close()
    finally:
        await client.aclose()
    return outcomes


def _node(conn: Connection, redis_url: str, prefix: str, cases: list[Case], seconds: float) -> None:
    """A second (or first) sender process: waits for the common start time, runs every case."""
    conn.send("ready")
    if not conn.poll(60):
        return
    start_at: float = conn.recv()
    conn.send(uvloop.run(_run_cases(redis_url, prefix, cases, start_at, seconds)))
    conn.close()


def _two_processes(
    redis_url: str, prefix: str, cases: list[Case], seconds: float
) -> list[list[Outcome]]:
    spawn = multiprocessing.get_context("spawn")
    pipes = [spawn.Pipe() for _ in range(2)]
    procs = [
        spawn.Process(target=_node, args=(child, redis_url, prefix, cases, seconds), daemon=True)
        for _, child in pipes
    ]
    for proc in procs:
        proc.start()
    try:
        for parent, _ in pipes:
            if not parent.poll(60) or parent.recv() != "ready":
                raise RuntimeError("a sender process did not start within 60 s")
        start_at = time.time() + 0.2
        for parent, _ in pipes:
            parent.send(start_at)
        deadline = cases[-1].start_offset + seconds + 30
        results: list[list[Outcome]] = []
        for parent, _ in pipes:
            if not parent.poll(deadline):
                raise RuntimeError("a sender process did not report")
            results.append(parent.recv())
        return results
    finally:
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join()


async def _us_per_call(call: Callable[[], Awaitable[None]], min_time: float, cap: int) -> float:
    calls, batch, elapsed = 0, 1, 0.0
    while calls < cap and (calls == 0 or elapsed < min_time):
        batch = min(batch, cap - calls)
        t0 = time.perf_counter()
        for _ in range(batch):
            await call()
        elapsed += time.perf_counter() - t0
        calls += batch
        batch *= 2
    return elapsed / calls * 1e6


async def _costs(redis_url: str, prefix: str, min_time: float, cap: int) -> dict[str, Any]:
    async def nothing() -> None:
        return None

    memory = MemoryRateLimiter()
    memory.configure("cost", NEVER_WAITS, burst=NEVER_WAITS)
    client = aioredis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    batched = RedisRateLimiter(client, prefix=prefix)
    single = RedisRateLimiter(client, prefix=prefix, max_batch=1)
    for limiter in (batched, single):
        limiter.configure("cost", NEVER_WAITS, burst=NEVER_WAITS)
        await limiter.acquire("cost")  # script loaded, connection open
    try:
        figures = {
            "empty": await _us_per_call(nothing, min_time, cap),
            "memory": await _us_per_call(lambda: memory.acquire("cost"), min_time, cap),
            "single": await _us_per_call(lambda: single.acquire("cost"), min_time, cap // 20),
        }
        calls_before = batched.redis_calls
        segments = 0

        async def take() -> None:
            nonlocal segments
            segments += 1
            await batched.acquire("cost")

        figures["redis"] = await _us_per_call(take, min_time, cap)
        figures["redis_calls_per_1k"] = (batched.redis_calls - calls_before) / segments * 1000
        figures["degraded"] = batched.degraded or single.degraded
        return figures
    finally:
        for limiter in (memory, batched, single):
            await limiter.close()
        await client.aclose()


def run(ctx: Context) -> ScenarioResult:
    result = ScenarioResult(
        "ratelimit", ctx.mode.name, f"gateway.ratelimit, Redis at {ctx.redis_url}, 2 cores"
    )
    min_time = ctx.mode.pick(full=0.5, quick=0.1, smoke=0.01)
    cap = ctx.mode.pick(full=1_000_000, quick=200_000, smoke=200)
    seconds = ctx.mode.pick(full=2.5, quick=0.5, smoke=0.25)
    # Accuracy is a property of the limiter, not of the machine's speed: once is enough
    # for the quick pass (it keeps it under 10 s); the full run takes the median of its runs.
    accuracy_runs = ctx.mode.pick(full=ctx.runs, quick=1, smoke=1)
    tolerance = ctx.mode.pick(full=0.1, quick=0.1, smoke=0.25)  # short windows are noisier
    result.details.update(
        rates=RATES, seconds=seconds, burst_seconds=BURST_SECONDS, accuracy_runs=accuracy_runs
    )

    for _ in range(ctx.runs):
        prefix = f"bench:rl:{uuid.uuid4().hex[:8]}:"
        costs = uvloop.run(_costs(ctx.redis_url, prefix, min_time, cap))
        result.check("Redis reachable (cost)", not costs["degraded"])
        memory = "acquire cost, memory"
        result.figures.record(memory, costs["memory"], "µs", higher_is_better=False)
        result.figures.record_baseline(
            memory, costs["empty"], "µs", "(await of an empty coroutine)"
        )
        redis = "acquire cost, Redis, batched"
        result.figures.record(redis, costs["redis"], "µs", higher_is_better=False)
        result.figures.record_baseline(
            redis, costs["single"], "µs", "(a Redis round trip per segment: max_batch=1)"
        )
        result.figures.record(
            "Redis round trips per 1k segments, never waiting",
            costs["redis_calls_per_1k"],
            "calls",
            higher_is_better=False,
        )
        result.runs += 1

    step = seconds + 0.3
    for _ in range(accuracy_runs):
        prefix = f"bench:rl:{uuid.uuid4().hex[:8]}:"
        cases = [
            Case(backend, rate, i * step)
            for i, (backend, rate) in enumerate((b, r) for b in ("memory", "redis") for r in RATES)
        ]
        one = uvloop.run(_run_cases(ctx.redis_url, prefix, cases, time.time() + 0.1, seconds))
        two = _two_processes(ctx.redis_url, prefix + "2p:", cases, seconds)
        for i, case in enumerate(cases):
            for procs, outcomes in ((1, [one[i]]), (2, [node[i] for node in two])):
                _record(result, case, procs, outcomes, seconds, tolerance)
    return result


def _record(
    result: ScenarioResult,
    case: Case,
    procs: int,
    outcomes: list[Outcome],
    seconds: float,
    tolerance: float,
) -> None:
    taken = sum(o.taken for o in outcomes)
    ratio = taken / seconds / case.rate
    label = f"{case.backend}, {procs} process{'es' if procs > 1 else ''}, {case.rate:g}/s"
    result.figures.record(f"achieved/configured, {label}", ratio, "x")
    # Two processes with in-process limits each send the whole rate: that is the expected 2x.
    expected = 2.0 if case.backend == "memory" and procs == 2 else 1.0
    low, high = expected * (1 - tolerance), expected * (1 + tolerance)
    result.check(f"{label}: {low:.2f} <= ratio <= {high:.2f}", low <= ratio <= high, f"{ratio:.3f}")
    if case.backend == "redis":
        calls = sum(o.redis_calls for o in outcomes)
        result.check(f"{label}: Redis reachable", not any(o.degraded for o in outcomes))
        per_1k = calls / max(taken, 1) * 1000
        result.figures.record(
            f"Redis round trips per 1k segments, {label}", per_1k, "calls", higher_is_better=False
        )
        result.check(f"{label}: batched (< 250 calls per 1k)", per_1k < 250, f"{per_1k:.0f}")
