"""Timing of pure functions on one core: calls per second, bounded in count and in time."""

from __future__ import annotations

import time
from collections.abc import Callable


def ops_per_second(fn: Callable[[], object], *, min_time: float, max_calls: int) -> float:
    """Call `fn` in growing batches until `min_time` seconds or `max_calls` calls have passed;
    return calls per second. The loop costs a few tens of nanoseconds per call, which is
    counted in: figures below ~1 µs per call should be read against their baseline."""
    calls = 0
    batch = 1
    elapsed = 0.0
    while calls < max_calls and (calls == 0 or elapsed < min_time):
        batch = min(batch, max_calls - calls)
        t0 = time.perf_counter()
        for _ in range(batch):
            fn()
        elapsed += time.perf_counter() - t0
        calls += batch
        batch *= 2
    return calls / elapsed if elapsed > 0 else float("nan")
