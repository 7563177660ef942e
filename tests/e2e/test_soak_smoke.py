"""`make soak` in a short form: the same run against a real gateway process and the simulator,
12 seconds in 4-second windows. Correctness only (every submit accepted, every receipt back,
every sample taken); the growth and drift bounds need the long run on a quiet machine."""

from __future__ import annotations

from benchmarks.soak import SoakConfig, run_soak


def test_short_soak_accepts_everything_and_samples_every_window() -> None:
    lines: list[str] = []
    report = run_soak(
        SoakConfig(
            seconds=12,
            window=4,
            rest_rate=20,
            smpp_rate=20,
            check_timing=False,
            log=lines.append,
        )
    )
    assert report.ok, "\n".join([*report.failures, *lines])
    assert len(report.windows) == 3
    for window in report.windows:
        assert window.rest_accepted == window.rest_sent == 80
        assert window.smpp_ok == window.smpp_sent == window.receipts == 80
        assert window.rss_mib > 0 and window.fds > 0 and window.tasks > 0
    assert len(lines) == 2 + 3  # the heading, the column names and a row per window
