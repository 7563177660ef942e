"""Invariant 1 under fire: nothing acknowledged is lost by `kill -9` and restart.

Short form for `make test`: three SIGKILLs at random moments during ten seconds of REST and SMPP
load (about a hundred messages), on each store, with a loopback webhook receiver that must get
every status event of every acknowledged message. The longer run, at least twenty kills per store:

    .venv/bin/python -m benchmarks.crash --kills 20 --store sqlite --seconds 120
    .venv/bin/python -m benchmarks.crash --kills 20 --store postgres --seconds 120

A failure message carries the seed (`--seed` replays the same kill moments and message mix), the
GET body of each lost or stuck message and the gateway log lines around the kill before it.
"""

from __future__ import annotations

from pathlib import Path

from tests.e2e.crash_harness import CrashConfig, run_crash


def test_acknowledged_messages_and_receipts_survive_kill_9(
    tmp_path: Path, database: dict[str, str]
) -> None:
    report = run_crash(
        CrashConfig(
            tmp=tmp_path,
            store_env=dict(database),
            kills=3,
            seconds=10,
            rate=10,
            settle_timeout=40,  # a receipt leased before a kill comes back after 30 s
        )
    )
    assert len(report.kills) == 3, report.failure_text()
    # Each kill hit a gateway that had taken REST and SMPP load since it started.
    assert all(k.took_load for k in report.kills), report.failure_text()
    assert len(report.acked) >= 20, report.failure_text()  # the load really ran
    assert not report.missing, "acknowledged messages lost\n" + report.failure_text()
    assert not report.not_final, "acknowledged messages not delivered\n" + report.failure_text()
    assert report.messages_checked == len({a.message_id for a in report.acked})
    assert not report.receipts_missing, "requested receipts missing\n" + report.failure_text()
    assert report.receipts_requested > 0 and report.receipts_received == report.receipts_requested
    assert not report.webhook_problems, "webhook events lost\n" + report.failure_text()
    assert report.webhook_messages_checked == report.messages_checked
    assert report.webhook_events >= report.messages_checked  # at least the final event of each
    # Duplicate webhook deliveries are allowed too (at-least-once); reported, not failed.
    # Duplicates towards the carrier are allowed (at-least-once); they are reported, not failed.
    print(report.summary())
