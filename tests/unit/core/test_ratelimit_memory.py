"""MemoryRateLimiter on the real event loop: fairness, one sleep per wait, configuration."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from gateway.ratelimit import MemoryRateLimiter, RateLimiter, open_rate_limiter
from gateway.ratelimit.admission import MemoryAdmission, open_admission


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every asyncio.sleep made while the test runs (it still sleeps for real)."""
    seen: list[float] = []
    real_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def counting_sleep(delay: float) -> None:
        seen.append(delay)
        await real_sleep(delay)

    monkeypatch.setattr(asyncio, "sleep", counting_sleep)
    return seen


def test_the_memory_limiter_is_a_rate_limiter() -> None:
    limiter: RateLimiter = open_rate_limiter(None)
    assert isinstance(limiter, MemoryRateLimiter)


@pytest.mark.serial  # timed: make test runs it alone, after the rest
async def test_waiters_go_in_arrival_order_with_one_sleep_each(sleeps: list[float]) -> None:
    limiter = MemoryRateLimiter()
    limiter.configure("bind", 50)  # one segment every 20 ms
    done: list[int] = []

    async def send(i: int) -> None:
        await limiter.acquire("bind")
        done.append(i)

    started = time.monotonic()
    await asyncio.gather(*(send(i) for i in range(6)))
    elapsed = time.monotonic() - started
    assert done == list(range(6))
    assert len(sleeps) == 5  # the first goes at once; no waiter polls
    assert 0.09 <= elapsed < 0.5


async def test_multipart_takes_count_segments() -> None:
    limiter = MemoryRateLimiter()
    limiter.configure("account", 100, burst=4)
    started = time.monotonic()
    await limiter.acquire("account", 4)  # the burst
    await limiter.acquire("account", 5)  # 5 more at 100/s
    assert 0.04 <= time.monotonic() - started < 0.3


async def test_a_cancelled_waiter_gives_its_turn_back() -> None:
    limiter = MemoryRateLimiter()
    limiter.configure("bind", 10)
    await limiter.acquire("bind")
    waiter = asyncio.create_task(limiter.acquire("bind"))
    await asyncio.sleep(0.01)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    started = time.monotonic()
    await limiter.acquire("bind")  # the cancelled slot is this one's, not lost
    assert time.monotonic() - started < 0.1


async def test_rate_zero_is_unlimited_and_reconfigure_applies_at_once(sleeps: list[float]) -> None:
    limiter = MemoryRateLimiter()
    limiter.configure("connector", 0)
    for _ in range(1000):
        await limiter.acquire("connector")
    assert sleeps == []
    limiter.configure("connector", 1000, burst=1)
    limiter.configure("connector", 20)
    await limiter.acquire("connector")
    started = time.monotonic()
    await limiter.acquire("connector")
    assert 0.04 <= time.monotonic() - started < 0.2


async def test_bad_input_gets_a_clear_error() -> None:
    limiter = MemoryRateLimiter()
    with pytest.raises(LookupError, match="not configured"):
        await limiter.acquire("nobody")
    limiter.configure("bind", 10)
    for n in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="integer >= 1"):
            await limiter.acquire("bind", n)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finite"):
        limiter.configure("bind", float("nan"))
    with pytest.raises(ValueError, match="burst"):
        limiter.configure("bind", 10, burst=0.5)


def test_workers_without_a_shared_store_each_keep_to_their_share_of_a_limit() -> None:
    """GATEWAY_WORKERS=2 without Redis: each worker's limiter and admission hold half of a
    carrier's or an account's rate, so the two together keep to it (each used to allow all
    of it). The clock stands still: what goes is exactly the burst."""
    limiter = open_rate_limiter(None, expected_nodes=2)
    assert isinstance(limiter, MemoryRateLimiter)
    limiter.configure("carrier", 100.0, burst=10)
    taken = sum(limiter.try_acquire("carrier") for _ in range(20))
    assert taken == 5  # half the burst, at half the rate

    admission = open_admission(None, expected_nodes=2)
    assert isinstance(admission, MemoryAdmission)
    fixed = MemoryAdmission(clock=lambda: 1000.0, nodes=2)
    admitted = sum(fixed.take_now("account:a", rate=10.0, n=1) == 0.0 for _ in range(20))
    assert admitted == 5  # one second of 5/s
    alone = MemoryAdmission(clock=lambda: 1000.0)
    assert sum(alone.take_now("account:a", rate=10.0, n=1) == 0.0 for _ in range(20)) == 10
