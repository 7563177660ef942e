"""Rate limits counted in segments, per connector bind, per connector and per account.

`RateLimiter` is what the dispatcher waits on. Two backends: `MemoryRateLimiter` (this process,
the default) and `RedisRateLimiter` (one limit shared by every node, tokens taken in batches).
`Aimd` turns a carrier's throttle answers into the rate to configure.

    gcra.py    GCRA and the in-process limiter
    shared.py  the Redis-backed limiter (imported only when asked for: it loads redis)
    aimd.py    additive-increase / multiplicative-decrease of one limit's rate
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from gateway.ratelimit.aimd import Aimd
from gateway.ratelimit.gcra import Gcra, MemoryRateLimiter

if TYPE_CHECKING:
    from gateway.ratelimit.shared import RedisRateLimiter

__all__ = [
    "Aimd",
    "Gcra",
    "MemoryRateLimiter",
    "RateLimiter",
    "RedisRateLimiter",
    "open_rate_limiter",
]


class RateLimiter(Protocol):
    def configure(self, key: str, rate: float, *, burst: float = 1.0) -> None:
        """Set (or change, e.g. after AIMD) the rate in segments/s of a limit; takes effect
        at the next acquire. rate <= 0 means unlimited."""

    async def acquire(self, key: str, n: int = 1) -> None:
        """Wait until `n` segments may go under `key`'s limit, then take them."""

    def try_acquire(self, key: str, n: int = 1) -> bool:
        """Take `n` segments if they may go now without waiting or a round trip; False, with
        nothing taken, otherwise (then `acquire`)."""

    async def close(self) -> None: ...


def open_rate_limiter(
    redis_url: str | None, *, expected_nodes: int = 1, prefix: str = "gw:"
) -> RateLimiter:
    """The in-process limiter, or the shared one when a Redis URL is given. `expected_nodes`:
    how many nodes share each limit (the workers of this host), so that each keeps to its share
    without Redis, or during a Redis outage; `prefix` namespaces the keys of one gateway
    cluster in a shared Redis."""
    if redis_url is None:
        return MemoryRateLimiter(nodes=expected_nodes)
    from gateway.ratelimit.shared import RedisRateLimiter

    return RedisRateLimiter(redis_url, expected_nodes=expected_nodes, prefix=f"{prefix}rl:")


def __getattr__(name: str) -> Any:
    # `from gateway.ratelimit import RedisRateLimiter` without importing redis for everyone
    # who only needs Gcra.
    if name == "RedisRateLimiter":
        from gateway.ratelimit.shared import RedisRateLimiter

        return RedisRateLimiter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
