"""micro-ratelimit: what `Gcra.try_take` costs, and whether it lets through the configured rate.

Cost: nanoseconds per call on the real clock, on the allowing path and on the refusing path;
baseline: the `time.monotonic()` call that every `try_take` makes, so the ratio is the cost of
the algorithm over reading the clock. Accuracy: over a simulated clock, a sender offering more
than the limit (`try_take` every `1 / offered` seconds) for `simulated` seconds; achieved rate
over configured rate, which should be 1 apart from the burst allowance spread over the window.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from benchmarks.modes import Context
from benchmarks.report import ScenarioResult
from benchmarks.timing import ops_per_second
from gateway.ratelimit import Gcra

# configured segments/s, burst, offered calls/s, segments per call
ACCURACY_CASES: tuple[tuple[float, float, float, int], ...] = (
    (10.0, 1.0, 100.0, 1),
    (100.0, 10.0, 1000.0, 1),
    (1000.0, 50.0, 5000.0, 1),
    (100.0, 10.0, 500.0, 3),  # multipart messages take their segments at once
)


class _SimulatedClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def achieved_ratio(rate: float, burst: float, offered: float, n: int, simulated: float) -> float:
    clock = _SimulatedClock()
    limit = Gcra(rate, burst=burst, clock=clock)
    taken = 0
    step = 1.0 / offered
    for i in range(int(simulated * offered)):
        clock.now = 1000.0 + i * step
        if limit.try_take(n) == 0:
            taken += n
    return taken / simulated / rate


def run(ctx: Context) -> ScenarioResult:
    result = ScenarioResult("micro-ratelimit", ctx.mode.name, "gateway.ratelimit.Gcra, 1 core")
    min_time = ctx.mode.pick(full=1.0, quick=0.25, smoke=0.001)
    max_calls = ctx.mode.pick(full=5_000_000, quick=1_000_000, smoke=20)
    simulated = ctx.mode.pick(full=60.0, quick=20.0, smoke=2.0)

    open_limit = Gcra(1e12, burst=1e6)  # never refuses
    closed_limit = Gcra(1e-3)
    # The first take's allow time is exactly `now`, which float rounding may put on either
    # side; once one is allowed, the next is 1000 s away and every take refuses.
    while closed_limit.try_take() > 0:
        pass
    result.check("refusing path refuses", closed_limit.try_take() > 0)
    result.check("allowing path allows", open_limit.try_take() == 0)

    def ns_per_call(fn: Callable[[], object]) -> float:
        return 1e9 / ops_per_second(fn, min_time=min_time, max_calls=max_calls)

    for _ in range(ctx.runs):
        clock_ns = ns_per_call(time.monotonic)
        for name, limit in (("allowed", open_limit), ("refused", closed_limit)):
            figure = f"try_take cost, {name}"
            result.figures.record(figure, ns_per_call(limit.try_take), "ns", higher_is_better=False)
            result.figures.record_baseline(figure, clock_ns, "ns", "(time.monotonic())")
        result.runs += 1
    # Deterministic on the simulated clock: measured once.
    for rate, burst, offered, n in ACCURACY_CASES:
        ratio = achieved_ratio(rate, burst, offered, n, simulated)
        name = f"achieved/configured, {rate:g}/s burst {burst:g}, offered {offered:g}/s x{n}"
        result.figures.record(name, ratio, "x")
        # The burst may add burst / (rate * simulated) over the window. Below 1: a sender
        # polling at discrete times loses what falls between its polls when burst is 1; more
        # than 5% lost means the limiter is wrong.
        upper = 1.0 + burst / (rate * simulated) + 0.01
        result.check(f"{name} in 0.95..{upper:.3f}", 0.95 <= ratio <= upper, f"{ratio:.4f}")
    return result
