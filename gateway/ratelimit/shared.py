"""A rate limit shared by every gateway process: GCRA state in Redis, tokens taken in batches.

The limit's TAT lives in one Redis key, moved by a Lua script that runs atomically on the
server and reads the server's clock (TIME), so nodes with skewed clocks agree. A node does not
ask Redis for each segment: it reserves a small batch (about `lease` seconds' worth at the
configured rate) in one call and hands the segments out locally, each at the time GCRA gave it.
A reservation only moves TAT forward, so the sum over all nodes never exceeds the limit; what
a node reserved but could not use within `lease` of its time is dropped, and since the
reservation did nothing but move TAT, that capacity is simply back once the time has passed.

The rate travels with every call, so a node that lowers it (AIMD after a throttle) paces its
next reservations at once without coordinating with the others.

If Redis cannot be reached the node limits locally at rate / `expected_nodes` (never
unlimited, never an exception to the dispatcher), logs one WARNING per outage, and asks Redis
again every `recheck` seconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections import deque
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError

from gateway.ratelimit.gcra import Gcra, check_limit, check_take

log = logging.getLogger(__name__)

# KEYS[1]: the limit's TAT, in microseconds of the server's clock.
# ARGV: interval (µs per segment), tolerance (µs), segments to reserve.
# Returns the offset (µs, from the server's now) of the reservation's base: segment i of the
# batch (1-based) may go at base + i * interval. Microseconds since the epoch (~1.8e15) fit a
# Lua double exactly; '%.0f' keeps every digit where tostring would print 1.7e+15.
RESERVE_SCRIPT = """
-- Redis < 5 replicates scripts verbatim and refuses a write after TIME unless told to
-- replicate the effects; from 5 on that is the default and this is a no-op.
if redis.replicate_commands then redis.replicate_commands() end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local count = tonumber(ARGV[3])
local tat = now
local stored = tonumber(redis.call('GET', KEYS[1]) or '')
if stored and stored > now then
  tat = stored
end
local new_tat = tat + count * interval
-- Once TAT is in the past the key means nothing: let it expire then (plus a margin).
local ttl = math.ceil((new_tat - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', ttl)
return math.floor(tat - tolerance - now + 0.5)
"""
RESERVE_SHA = hashlib.sha1(RESERVE_SCRIPT.encode(), usedforsecurity=False).hexdigest()

_UNREACHABLE = (RedisError, OSError, TimeoutError)


@dataclass(slots=True)
class _Run:
    """Reserved segments not handed out yet: `count` of them, the first due at `at` (local
    monotonic seconds), one every `interval` after it (0: all at once, a burst)."""

    at: float
    count: int
    interval: float


class _Limit:
    """What a node holds for one key: its configuration, the segments it reserved, and its
    local stand-in for outages."""

    __slots__ = (
        "burst",
        "fallback",
        "handed_out",
        "interval",
        "limited",
        "lock",
        "nodes",
        "rate",
        "refilled_at",
        "runs",
        "tolerance",
    )

    def __init__(self, rate: float, burst: float, nodes: int) -> None:
        self.nodes = nodes
        self.runs: deque[_Run] = deque()
        self.lock = asyncio.Lock()  # one reservation in flight per key and node
        self.handed_out = 0  # segments taken since the last reservation
        self.refilled_at: float | None = None
        self.limited = False  # the last take had to wait for its time: demand exceeds supply
        self.fallback: Gcra | None = None
        self.rate = self.burst = self.interval = self.tolerance = 0.0
        self.reconfigure(rate, burst)

    def reconfigure(self, rate: float, burst: float) -> None:
        if rate < self.rate:
            # Slowing down (a throttle): segments reserved at the old pace go unused, or the
            # carrier would get up to `lease` more of the rate it just refused.
            self.runs.clear()
        self.rate = rate
        self.burst = max(burst, 1.0)
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.tolerance = self.burst * self.interval
        if self.fallback is not None and rate > 0:
            # Keep its TAT: AIMD changes the rate often, and a fresh Gcra would grant a burst.
            self.fallback.reconfigure(rate / self.nodes, burst=self.burst / self.nodes)

    @property
    def available(self) -> int:
        return sum(run.count for run in self.runs)

    def expire(self, before: float) -> None:
        """Drop reserved segments due before `before`: held any longer, they would go out as a
        burst on top of the segments due now."""
        while self.runs:
            run = self.runs[0]
            if run.at >= before:
                return
            if run.interval == 0:
                self.runs.popleft()
                continue
            stale = min(run.count, math.floor((before - run.at) / run.interval) + 1)
            run.count -= stale
            run.at += stale * run.interval
            if run.count:
                return
            self.runs.popleft()

    def take(self, n: int, now: float) -> float | None:
        """Hand out `n` reserved segments and return when the last of them may go; None (and
        nothing taken) when fewer than `n` are held."""
        if self.available < n:
            return None
        ready = now
        left = n
        while left:
            run = self.runs[0]
            k = min(left, run.count)
            ready = max(ready, run.at + (k - 1) * run.interval)
            run.at += k * run.interval
            run.count -= k
            left -= k
            if not run.count:
                self.runs.popleft()
        self.handed_out += n
        self.limited = ready > now
        return ready

    def batch(self, shortfall: int, now: float, lease: float, max_batch: int) -> int:
        """How many segments to reserve, never fewer than the waiting take needs.

        At most `lease` seconds of the configured rate (what one batch may hold back from the
        other nodes). A node the limit holds back (its last take had to wait) asks for that
        much: sizing it by its achieved pace would be a trap, since a node that got small
        batches achieves a small pace, asks for small batches again and stays starved next to
        one that got big ones. A node that is not held back asks for its own pace over
        `lease`: one sending a segment a second must not reserve 50 ms of the whole limit each
        time, or idle nodes would starve busy ones.
        """
        cap = max(1, min(max_batch, math.floor(self.rate * lease)))
        if self.refilled_at is None:
            wanted = 0
        elif self.limited:
            wanted = cap
        else:
            elapsed = now - self.refilled_at
            pace = self.handed_out / elapsed if elapsed > 0 else math.inf
            wanted = cap if pace * lease >= cap else math.ceil(pace * lease)
        self.handed_out = 0
        self.refilled_at = now
        return max(shortfall, min(cap, wanted))

    def add(self, now: float, base: float, count: int, interval: float) -> None:
        """Hold `count` segments reserved with base offset `base` seconds (segment i may go at
        now + base + i * interval). Those already due go in one burst run at `now`: due in the
        past, they are the bucket's idle credit, not stale."""
        due = min(count, max(0, math.floor(-base / interval))) if base < 0 else 0
        if due:
            self.runs.append(_Run(now, due, 0.0))
        if count > due:
            self.runs.append(_Run(now + base + (due + 1) * interval, count - due, interval))

    def local(self) -> Gcra:
        """This node's share of the limit, enforced here alone, while Redis is out."""
        if self.fallback is None:
            self.fallback = Gcra(self.rate / self.nodes, burst=self.burst / self.nodes)
        return self.fallback


class RedisRateLimiter:
    """`RateLimiter` whose limits are shared by every node using the same Redis and prefix.

    `redis`: a URL (the limiter owns the client and closes it) or a `redis.asyncio.Redis`
    (the caller's). `lease`: seconds of the rate one reservation covers, and how long a reserved
    segment stays usable after its time. `max_batch`: a cap on one reservation.
    `expected_nodes`: how many nodes share each limit, for the local fallback. `recheck`:
    seconds between attempts to reach Redis during an outage. `timeout`: bound on one call.
    """

    def __init__(
        self,
        redis: str | aioredis.Redis,
        *,
        prefix: str = "gw:rl:",
        lease: float = 0.05,
        max_batch: int = 256,
        expected_nodes: int = 1,
        recheck: float = 1.0,
        timeout: float = 0.5,
    ) -> None:
        if not (math.isfinite(lease) and lease > 0):
            raise ValueError(f"lease must be seconds > 0, got {lease!r}")
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch!r}")
        if expected_nodes < 1:
            raise ValueError(f"expected_nodes must be >= 1, got {expected_nodes!r}")
        if not (recheck > 0 and timeout > 0):
            raise ValueError("recheck and timeout must be seconds > 0")
        if isinstance(redis, str):
            # Fail fast and retry once (a connection Redis closed while idle): the dispatcher
            # waits on this call, and the fallback is better than ten backed-off retries.
            self._redis = aioredis.Redis.from_url(
                redis,
                socket_connect_timeout=timeout,
                socket_timeout=timeout,
                retry=Retry(NoBackoff(), 1),
            )
            self._owned = True
        else:
            self._redis = redis
            self._owned = False
        self._prefix = prefix
        self._lease = lease
        self._max_batch = max_batch
        self._nodes = expected_nodes
        self._recheck = recheck
        self._timeout = timeout
        self._limits: dict[str, _Limit] = {}
        self._outage_since: float | None = None
        self._retry_at = 0.0
        self._closed = False
        self.redis_calls = 0  # round trips made, for tests and benchmarks

    @property
    def degraded(self) -> bool:
        """True while Redis is unreachable and limits are local."""
        return self._outage_since is not None

    def configure(self, key: str, rate: float, *, burst: float = 1.0) -> None:
        check_limit(rate, burst)
        limit = self._limits.get(key)
        if limit is None:
            self._limits[key] = _Limit(rate, burst, self._nodes)
        else:
            limit.reconfigure(rate, burst)

    def _limit(self, key: str, n: int) -> _Limit:
        check_take(n)
        if self._closed:
            raise RuntimeError("the rate limiter is closed")
        try:
            return self._limits[key]
        except KeyError:
            raise LookupError(f"rate limit {key!r} is not configured") from None

    async def acquire(self, key: str, n: int = 1) -> None:
        limit = self._limit(key, n)
        if limit.rate <= 0:
            return
        async with limit.lock:
            if limit.rate <= 0:  # made unlimited while this take waited for the lock
                return
            now = time.monotonic()
            limit.expire(now - self._lease)
            ready = limit.take(n, now)
            if ready is None and not (self.degraded and now < self._retry_at):
                ready = await self._reserve(key, limit, n, now)
        if ready is None:  # Redis is out: this node's share, locally
            await limit.local().take(n)
            return
        delay = ready - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    def try_acquire(self, key: str, n: int = 1) -> bool:
        """Only from segments this node holds already and that are due now (or, during an
        outage, from its local share): never a round trip."""
        limit = self._limit(key, n)
        if limit.rate <= 0:
            return True
        if limit.lock.locked():  # a take is reserving or waiting: do not overtake it
            return False
        now = time.monotonic()
        if self.degraded and now < self._retry_at:
            return limit.local().try_take(n) == 0.0
        limit.expire(now - self._lease)
        if n != 1 or not limit.runs or limit.runs[0].at > now:
            return False
        limit.take(1, now)
        return True

    async def _reserve(self, key: str, limit: _Limit, n: int, now: float) -> float | None:
        count = limit.batch(n - limit.available, now, self._lease, self._max_batch)
        # The spacing Redis reserves at, kept for handing the batch out: configure() may change
        # the limit's while the call is in flight.
        interval = limit.interval
        args = (self._prefix + key, f"{interval * 1e6:.3f}", f"{limit.tolerance * 1e6:.3f}")
        try:
            async with asyncio.timeout(self._timeout * 2):
                reply = await self._call(*args, count)
        except _UNREACHABLE as exc:
            self._went_down(exc)
            return None
        if not isinstance(reply, int):  # not our script's answer (a proxy, a wrong server)
            self._went_down(TypeError(f"unexpected reply {reply!r:.50}"))
            return None
        base = reply / 1e6
        now = time.monotonic()
        if self._outage_since is not None:
            log.info(
                "Redis reachable again: rate limits are shared again after %.1f s",
                now - self._outage_since,
            )
            self._outage_since = None
        limit.add(now, base, count, interval)
        return limit.take(n, now)

    async def _call(self, key: str, interval: str, tolerance: str, count: int) -> object:
        self.redis_calls += 1
        try:
            return await self._redis.evalsha(RESERVE_SHA, 1, key, interval, tolerance, count)
        except NoScriptError:
            # The server's script cache is empty (first use, restart, SCRIPT FLUSH, failover).
            self.redis_calls += 2
            await self._redis.script_load(RESERVE_SCRIPT)
            return await self._redis.evalsha(RESERVE_SHA, 1, key, interval, tolerance, count)

    def _went_down(self, exc: BaseException) -> None:
        now = time.monotonic()
        self._retry_at = now + self._recheck
        if self._outage_since is None:
            self._outage_since = now
            log.warning(
                "Redis unreachable for rate limits (%s): limiting locally at 1/%d of each rate "
                "until it is back",
                type(exc).__name__,
                self._nodes,
                extra={"error": str(exc)[:200]},
            )

    async def close(self) -> None:
        self._closed = True
        self._limits.clear()
        if self._owned:
            await self._redis.aclose()
