"""Refusing rate limits: admit a request now or say how long to wait, never queue it.

The dispatcher's limiters wait for their turn (a part is already accepted and must go out).
At intake the caller is still there, so a request over its account's rate is refused with the
time after which it would be admitted (HTTP 429 `Retry-After`, SMPP ESME_RTHROTTLED). GCRA
again: a take of n segments is admitted when max(TAT, now) + n/rate - tolerance <= now, and only
then moves TAT, so refused requests cost the limit nothing. The tolerance is one second of the
rate, and at least the request itself: a message larger than the burst goes when the limit is
idle instead of never.

`MemoryAdmission` keeps TAT in this process; `RedisAdmission` keeps it in Redis with a Lua
script reading the server's clock, so every node shares one limit (one round trip per admitted
request; while Redis is unreachable each node admits its share, rate / `expected_nodes`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)


class Admission(Protocol):
    async def try_take(self, key: str, *, rate: float, n: int) -> float:
        """Take `n` segments of `key`'s limit of `rate` segments/s and return 0, or take
        nothing and return the seconds after which they would be admitted."""
        ...

    def take_now(self, key: str, *, rate: float, n: int) -> float | None:
        """`try_take` when it needs no I/O, else None (nothing taken): the caller then awaits
        `try_take`."""
        ...

    async def close(self) -> None: ...


def _admit(tat: float, now: float, rate: float, n: int) -> tuple[float, float]:
    """(new TAT, 0) when admitted, else (TAT unchanged, seconds to wait)."""
    interval = 1.0 / rate
    tolerance = max(1.0, n * interval)
    base = max(tat, now)
    allow_at = base + n * interval - tolerance
    if allow_at > now + 1e-9:  # not a float's rounding: one second at 5/s is 5 segments
        return tat, allow_at - now
    return base + n * interval, 0.0


class MemoryAdmission:
    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
        nodes: int = 1,
    ) -> None:
        """`nodes`: how many processes admit for the same accounts without a shared store (the
        workers of one host); each admits its share of an account's rate."""
        self._clock = clock
        self._max = max_keys
        self._nodes = max(1, nodes)
        self._tat: dict[str, float] = {}

    async def try_take(self, key: str, *, rate: float, n: int) -> float:
        return self.take_now(key, rate=rate, n=n)

    def take_now(self, key: str, *, rate: float, n: int) -> float:
        if rate <= 0 or not math.isfinite(rate):
            return 0.0
        now = self._clock()
        tat, wait = _admit(self._tat.get(key, now), now, rate / self._nodes, n)
        if wait == 0.0:
            if len(self._tat) >= self._max:
                # Limits whose TAT has passed hold no debt: forgetting them changes nothing.
                self._tat = {k: v for k, v in self._tat.items() if v > now}
            self._tat[key] = tat
        return wait

    async def close(self) -> None:
        self._tat.clear()


# KEYS[1]: TAT in microseconds of the server's clock. ARGV: interval (µs), n.
# Returns 0 when admitted (TAT moved), else the microseconds to wait (TAT untouched).
ADMIT_SCRIPT = """
if redis.replicate_commands then redis.replicate_commands() end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local interval = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local tolerance = math.max(1000000, n * interval)
local tat = tonumber(redis.call('GET', KEYS[1]) or '') or now
if tat < now then tat = now end
local allow_at = tat + n * interval - tolerance
if allow_at > now then
  return math.ceil(allow_at - now)
end
local new_tat = tat + n * interval
local ttl = math.ceil((new_tat - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', ttl)
return 0
"""
ADMIT_SHA = hashlib.sha1(ADMIT_SCRIPT.encode(), usedforsecurity=False).hexdigest()


class RedisAdmission:
    def __init__(
        self,
        redis_url: str,
        *,
        prefix: str = "gw:adm:",
        expected_nodes: int = 1,
        timeout: float = 0.5,
        recheck: float = 1.0,
    ) -> None:
        import redis.asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self._redis = aioredis.Redis.from_url(
            redis_url,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry=Retry(NoBackoff(), 1),
        )
        self._prefix = prefix
        self._nodes = max(1, expected_nodes)
        self._timeout = timeout
        self._recheck = recheck
        self._retry_at = 0.0
        self._local = MemoryAdmission()

    def take_now(self, key: str, *, rate: float, n: int) -> float | None:
        return None  # the shared count is in Redis: always a round trip

    async def try_take(self, key: str, *, rate: float, n: int) -> float:
        from redis.exceptions import NoScriptError, RedisError

        if rate <= 0 or not math.isfinite(rate):
            return 0.0
        if time.monotonic() < self._retry_at:
            return await self._local.try_take(key, rate=rate / self._nodes, n=n)
        args = (self._prefix + key, f"{1e6 / rate:.3f}", n)
        try:
            async with asyncio.timeout(self._timeout * 2):
                try:
                    reply = await self._redis.evalsha(ADMIT_SHA, 1, *args)
                except NoScriptError:
                    await self._redis.script_load(ADMIT_SCRIPT)
                    reply = await self._redis.evalsha(ADMIT_SHA, 1, *args)
        except (RedisError, OSError, TimeoutError) as exc:
            if self._retry_at == 0.0:  # the first failure of an outage
                log.warning(
                    "Redis unreachable for account rate limits (%s): admitting 1/%d of each "
                    "rate locally until it is back",
                    type(exc).__name__,
                    self._nodes,
                )
            self._retry_at = time.monotonic() + self._recheck
            return await self._local.try_take(key, rate=rate / self._nodes, n=n)
        if self._retry_at:
            log.info("Redis reachable again: account rate limits are shared again")
            self._retry_at = 0.0
        return int(reply) / 1e6 if isinstance(reply, int) else 0.0

    async def close(self) -> None:
        await self._redis.aclose()
        await self._local.close()


def open_admission(
    redis_url: str | None, *, expected_nodes: int = 1, prefix: str = "gw:"
) -> Admission:
    if redis_url is None:
        return MemoryAdmission(nodes=expected_nodes)
    return RedisAdmission(redis_url, prefix=f"{prefix}adm:", expected_nodes=expected_nodes)
