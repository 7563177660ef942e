"""One node of the two-process rate-limit test: acquire as fast as allowed, report the count.

`python tests/integration/ratelimit_node.py REDIS_URL PREFIX KEY RATE SECONDS`: connects, prints
"ready", reads a start time (epoch seconds) on stdin so that every node starts together, takes
one segment at a time under KEY until SECONDS have passed, then prints one JSON line: segments
taken, Redis round trips made, and whether the node fell back to its local limit.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import redis.asyncio as aioredis

from gateway.ratelimit.shared import RedisRateLimiter


async def main(url: str, prefix: str, key: str, rate: float, seconds: float) -> None:
    client = aioredis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    await client.ping()  # connected before the start, so the first segment costs no handshake
    limiter = RedisRateLimiter(client, prefix=prefix)
    limiter.configure(key, rate)
    print("ready", flush=True)
    start_at = float(sys.stdin.readline())
    await asyncio.sleep(max(0.0, start_at - time.time()))
    deadline = time.monotonic() + (start_at + seconds - time.time())
    taken = 0
    while True:
        await limiter.acquire(key)
        if time.monotonic() >= deadline:
            break
        taken += 1
    print(json.dumps({"taken": taken, "calls": limiter.redis_calls, "degraded": limiter.degraded}))
    await limiter.close()
    await client.aclose()


if __name__ == "__main__":
    url, prefix, key, rate, seconds = sys.argv[1:6]
    asyncio.run(main(url, prefix, key, float(rate), float(seconds)))
