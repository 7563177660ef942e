"""`python -m benchmarks.crash --kills 20 --store sqlite|postgres --seconds 120`: crash safety.

REST and SMPP load against a real gateway process, SIGKILL at random moments (`--kills` over
`--seconds`), restart with the same node id and settings, then check that every acknowledged
message is delivered, every requested SMPP receipt arrived and a loopback webhook receiver got
every status event of every acknowledged message (tests/e2e/crash_harness.py). Prints kills
survived, messages acknowledged and checked, duplicates resent, receipts and webhook events
checked; on a failure, the evidence (GET bodies, gateway log around the kill). Exit status 0 when
nothing acknowledged was lost or stuck and no receipt or webhook event is missing, 1 otherwise, 2
for a usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import uuid
from pathlib import Path

from tests.e2e.crash_harness import CrashConfig, run_crash


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.crash", description=__doc__)
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs per run (default 20)")
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--seconds", type=float, default=120.0, help="load phase (default 120)")
    parser.add_argument("--rate", type=float, default=40.0, help="submissions/s (default 40)")
    parser.add_argument("--smpp-share", type=float, default=0.5)
    parser.add_argument("--settle", type=float, default=120.0, help="longest wait at the end")
    parser.add_argument("--seed", type=int, default=None, help="replay kill moments and mix")
    parser.add_argument(
        "--postgres-dsn",
        default=os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"),
        help="PostgreSQL for --store postgres (a fresh schema, dropped afterwards)",
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=("DEBUG", "INFO"), help="the gateway's log level"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.kills < 0 or args.seconds <= 1 or args.rate <= 0:
        print("--kills >= 0, --seconds > 1 and --rate > 0", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="crash-"))
    schema = ""
    if args.store == "sqlite":
        store_env = {"GATEWAY_DATABASE_URL": f"sqlite:///{tmp}/gateway.db"}
    else:
        schema = f"crash_{uuid.uuid4().hex[:12]}"
        store_env = {"GATEWAY_DATABASE_URL": args.postgres_dsn, "GATEWAY_DATABASE_SCHEMA": schema}
    try:
        report = run_crash(
            CrashConfig(
                tmp=tmp,
                store_env=store_env,
                kills=args.kills,
                seconds=args.seconds,
                rate=args.rate,
                smpp_share=args.smpp_share,
                settle_timeout=args.settle,
                seed=args.seed,
                gateway_log_level=args.log_level,
                log=lambda line: print(line, flush=True),
            )
        )
    finally:
        if schema:
            from benchmarks.pgschema import drop_schema

            asyncio.run(drop_schema(args.postgres_dsn, schema))
    print()
    print(report.summary())
    if report.duplicate_details:
        print(f"duplicated parts (first 10): {report.duplicate_details[:10]}")
        held = [d for d in report.duplicate_details if (d["answered_before_kill_s"] or 0) > 1.0]
        if held:
            print(f"resent although the carrier answered > 1 s before the kill: {held}")
    print(
        f"gateway log: {report.gateway_log}" + ("" if args.keep or not report.ok else " (removed)")
    )
    if not report.ok:
        print("\nFAILED\n" + "\n\n".join(report.evidence))
    if not args.keep and report.ok:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
