"""RedisRateLimiter against the machine's Redis: rate, burst, batching, reconfiguration, the
script cache being flushed, Redis going away and coming back, and two OS processes sharing one
limit. Every test uses a key prefix of its own."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import select
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
import redis.asyncio as aioredis

from gateway.ratelimit import RateLimiter, RedisRateLimiter, open_rate_limiter

pytestmark = [pytest.mark.redis, pytest.mark.serial]  # serial: run alone, after the rest

NODE_SCRIPT = Path(__file__).with_name("ratelimit_node.py")
ROOT = Path(__file__).resolve().parents[2]
LOGGER = "gateway.ratelimit.shared"


@pytest.fixture
def prefix() -> str:
    return f"test:rl:{uuid.uuid4().hex[:12]}:"


@pytest.fixture
async def admin(redis_url: str, prefix: str) -> AsyncIterator[aioredis.Redis]:
    """A plain client, to look at and tamper with what the limiter keeps in Redis."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def _hammer(limiter: RateLimiter, key: str, seconds: float) -> int:
    """Take one segment at a time for `seconds`; the number taken in that time."""
    deadline = time.monotonic() + seconds
    taken = 0
    while True:
        await limiter.acquire(key)
        if time.monotonic() >= deadline:
            return taken
        taken += 1


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_holds_the_rate_with_few_round_trips(redis_url: str, prefix: str) -> None:
    opened = open_rate_limiter(redis_url)
    assert isinstance(opened, RedisRateLimiter)
    await opened.close()
    limiter = RedisRateLimiter(redis_url, prefix=prefix)
    limiter.configure("bind", 200)
    try:
        taken = await _hammer(limiter, "bind", 2.0)
    finally:
        await limiter.close()
    assert 360 <= taken <= 440, taken
    # A batch is about 50 ms of the rate (10 segments at 200/s): ~40 calls, not 400.
    assert limiter.redis_calls <= taken / 5, (limiter.redis_calls, taken)


async def test_try_acquire_takes_only_what_the_node_holds_and_is_due(
    redis_url: str, prefix: str
) -> None:
    """The pacer's fast path: never a round trip; segments already reserved and due are
    taken, anything else is left to `acquire`."""
    limiter = RedisRateLimiter(redis_url, prefix=prefix)
    limiter.configure("account", 100, burst=100)
    try:
        assert not limiter.try_acquire("account")  # nothing reserved yet
        assert limiter.redis_calls == 0
        await limiter.acquire("account")  # the first reservation is the one segment
        assert not limiter.try_acquire("account")
        await limiter.acquire("account")  # then 50 ms of the rate: 5, all due (burst 100)
        calls = limiter.redis_calls
        taken = 0
        while limiter.try_acquire("account"):
            taken += 1
        assert taken == 4 and limiter.redis_calls == calls
        limiter.configure("unlimited", 0)
        assert limiter.try_acquire("unlimited")
    finally:
        await limiter.close()


async def test_burst_then_paced(redis_url: str, prefix: str) -> None:
    limiter = RedisRateLimiter(redis_url, prefix=prefix)
    limiter.configure("account", 100, burst=20)
    try:
        started = time.monotonic()
        for _ in range(20):
            await limiter.acquire("account")
        burst_took = time.monotonic() - started
        started = time.monotonic()
        for _ in range(20):
            await limiter.acquire("account")
        paced_took = time.monotonic() - started
    finally:
        await limiter.close()
    assert burst_took < 0.06, burst_took
    assert 0.17 <= paced_took <= 0.3, paced_took  # 20 more at 100/s


async def test_reconfigure_takes_effect_at_the_next_acquire(redis_url: str, prefix: str) -> None:
    limiter = RedisRateLimiter(redis_url, prefix=prefix)
    limiter.configure("connector", 400)
    try:
        fast = await _hammer(limiter, "connector", 0.5)
        limiter.configure("connector", 100)  # AIMD after a throttle
        slow = await _hammer(limiter, "connector", 0.5)
        limiter.configure("connector", 0)  # unlimited: no Redis at all
        calls = limiter.redis_calls
        unlimited = await _hammer(limiter, "connector", 0.05)
    finally:
        await limiter.close()
    assert 180 <= fast <= 220, fast
    assert 40 <= slow <= 56, slow
    assert unlimited > 1000 and limiter.redis_calls == calls


async def test_configure_while_takes_wait_for_a_reservation(redis_url: str, prefix: str) -> None:
    limiter = RedisRateLimiter(redis_url, prefix=prefix)
    limiter.configure("bind", 1000)
    try:
        takes = [asyncio.create_task(limiter.acquire("bind")) for _ in range(5)]
        await asyncio.sleep(0)  # the first is in its Redis call, the rest wait behind it
        limiter.configure("bind", 0)
        await asyncio.wait_for(asyncio.gather(*takes), timeout=2)
        # Only the first reservation went to Redis (3 calls if it met NOSCRIPT): the waiters
        # found the limit unlimited once they got the lock.
        assert limiter.redis_calls <= 3
        limiter.configure("bind", 50)
        await asyncio.wait_for(asyncio.gather(*(limiter.acquire("bind") for _ in range(3))), 2)
    finally:
        await limiter.close()


async def test_two_limiters_in_one_process_share_the_limit(redis_url: str, prefix: str) -> None:
    nodes = [RedisRateLimiter(redis_url, prefix=prefix) for _ in range(2)]
    for node in nodes:
        node.configure("carrier", 200)
    try:
        counts = await asyncio.gather(*(_hammer(node, "carrier", 1.0) for node in nodes))
    finally:
        for node in nodes:
            await node.close()
    assert 180 <= sum(counts) <= 220, counts
    assert min(counts) >= 50, counts  # both got a share


async def test_keys_expire_when_idle(redis_url: str, prefix: str, admin: aioredis.Redis) -> None:
    limiter = RedisRateLimiter(redis_url, prefix=prefix)
    limiter.configure("idle", 100)
    try:
        await limiter.acquire("idle")
    finally:
        await limiter.close()
    ttl = await admin.pttl(f"{prefix}idle")
    assert 0 < ttl <= 1100, ttl  # the batch's time plus a one-second margin


async def test_the_script_is_reloaded_after_script_flush(
    redis_url: str, prefix: str, admin: aioredis.Redis
) -> None:
    limiter = RedisRateLimiter(redis_url, prefix=prefix)
    limiter.configure("bind", 100_000, burst=100)
    try:
        await limiter.acquire("bind")
        await admin.script_flush("SYNC")
        calls = limiter.redis_calls
        for _ in range(300):  # several batches: the next reservation meets NOSCRIPT
            await limiter.acquire("bind")
        assert not limiter.degraded
        assert limiter.redis_calls > calls + 2  # EVALSHA, SCRIPT LOAD, EVALSHA, then more
    finally:
        await limiter.close()


async def test_a_key_holding_something_else_does_not_crash_the_dispatcher(
    redis_url: str, prefix: str, admin: aioredis.Redis
) -> None:
    await admin.set(f"{prefix}garbage", "not a number")
    await admin.rpush(f"{prefix}wrongtype", "a list")
    limiter = RedisRateLimiter(redis_url, prefix=prefix, recheck=0.1)
    limiter.configure("garbage", 1000)
    limiter.configure("wrongtype", 1000)
    try:
        await limiter.acquire("garbage")  # read as no state: a fresh limit
        assert not limiter.degraded
        await limiter.acquire("wrongtype")  # WRONGTYPE: local limit, no exception
        assert limiter.degraded
    finally:
        await limiter.close()


async def test_redis_down_falls_back_to_the_local_share_without_raising(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limiter = RedisRateLimiter(
        f"redis://127.0.0.1:{_closed_port()}/0", expected_nodes=2, recheck=0.1, timeout=0.2
    )
    limiter.configure("bind", 100)  # 50/s for this node while alone
    try:
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            taken = await _hammer(limiter, "bind", 0.6)
    finally:
        await limiter.close()
    assert limiter.degraded
    assert 25 <= taken <= 34, taken  # 50/s: limited, not unlimited and not stopped
    warnings = [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]  # once per outage
    assert "1/2 of each rate" in warnings[0].getMessage()


class _Proxy:
    """A TCP relay in front of the real Redis that can be cut and restored on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()
        await self._server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def test_recovers_when_redis_is_back(
    redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    target = urlsplit(redis_url)
    proxy = _Proxy((target.hostname or "127.0.0.1", target.port or 6379))
    await proxy.start()
    limiter = RedisRateLimiter(
        f"redis://127.0.0.1:{proxy.port}{target.path}", prefix=prefix, recheck=0.1, timeout=0.2
    )
    limiter.configure("bind", 1000)
    try:
        with caplog.at_level(logging.INFO, logger=LOGGER):
            await _hammer(limiter, "bind", 0.1)
            assert not limiter.degraded
            await proxy.cut()
            during = await _hammer(limiter, "bind", 0.3)
            assert limiter.degraded and during > 100
            await proxy.start()  # same port
            await _hammer(limiter, "bind", 0.3)
            assert not limiter.degraded
    finally:
        await limiter.close()
        await proxy.cut()
    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert sum("unreachable" in m for m in messages) == 1, messages
    assert any("reachable again" in m for m in messages), messages


def _evalsha_calls(info: dict[str, object]) -> int:
    stat = info.get("cmdstat_evalsha")
    return int(stat["calls"]) if isinstance(stat, dict) else 0


def test_two_processes_share_one_carrier_limit(redis_url: str, prefix: str) -> None:
    rate, seconds = 300.0, 3.0
    admin = redis.Redis.from_url(redis_url)
    before = _evalsha_calls(admin.info("commandstats"))
    nodes = [
        subprocess.Popen(
            [
                sys.executable,
                str(NODE_SCRIPT),
                redis_url,
                prefix,
                "carrier",
                str(rate),
                str(seconds),
            ],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for node in nodes:
            assert node.stdout is not None
            readable, _, _ = select.select([node.stdout], [], [], 20)
            assert readable, "a node did not start within 20 s"
            assert node.stdout.readline().strip() == "ready", node.stderr
        start_at = time.time() + 0.2
        reports = []
        for node in nodes:
            assert node.stdin is not None
            node.stdin.write(f"{start_at}\n")
            node.stdin.flush()
        for node in nodes:
            out, err = node.communicate(timeout=seconds + 15)
            assert node.returncode == 0, err
            reports.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for node in nodes:
            if node.poll() is None:
                node.kill()
                node.wait()
        admin.delete(f"{prefix}carrier")
    after = _evalsha_calls(admin.info("commandstats"))
    admin.close()
    taken = sum(r["taken"] for r in reports)
    calls = sum(r["calls"] for r in reports)
    achieved = taken / seconds
    assert not any(r["degraded"] for r in reports), reports
    assert 0.9 * rate <= achieved <= 1.1 * rate, (achieved, reports)
    assert min(r["taken"] for r in reports) >= 0.25 * taken, reports  # neither starved
    # Batching: a round trip per ~8 segments here, not per segment; Redis agrees with the
    # nodes' own count (it sees at least theirs; others' EVALSHAs could only add).
    assert calls <= taken / 4, (calls, taken)
    assert calls <= after - before <= taken / 2, (calls, after - before, taken)
