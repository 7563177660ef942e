"""`python -m benchmarks [--quick] [NAME ...]`: run scenarios, write JSON, print the table.

Exit status 0 when every scenario ran and passed its checks, 1 when one failed (an exception or
counts that disagree), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from pathlib import Path

from benchmarks.modes import FULL, QUICK, SMOKE, Context, SmppTarget
from benchmarks.report import RESULTS_DIR, ScenarioResult, markdown_table
from benchmarks.scenarios import EXTRA_SCENARIOS, SCENARIOS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Gateway benchmarks. Every scenario runs several times and reports the "
        "median and the spread; results go to benchmarks/results/<scenario>.json.",
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="scenarios to run (default: all but those run only by name, such as kannel)",
    )
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="short loads, a few minutes")
    size.add_argument(
        "--smoke", action="store_true", help="a few messages, one run: correctness only (tests)"
    )
    parser.add_argument("--runs", type=int, default=None, help="runs per scenario (default 3)")
    parser.add_argument(
        "--results-dir", type=Path, default=RESULTS_DIR, help="where the JSON files go"
    )
    parser.add_argument(
        "--postgres-dsn",
        default=os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"),
        help="PostgreSQL for micro-store (a fresh schema is created and dropped)",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="Redis for ratelimit (keys under a fresh prefix, expiring on their own)",
    )
    parser.add_argument(
        "--backlog-postgres",
        action="store_true",
        help="backlog: run on PostgreSQL too (after SQLite; loading its backlog takes minutes)",
    )
    parser.add_argument(
        "--smpp-target",
        choices=("simulator", "gateway", "external"),
        default="gateway",
        help="smpp-ingest target: a gateway process through its SMPP server (default), a "
        "simulator process alone (the bare SMPP baseline), or an SMSC at --smpp-address",
    )
    parser.add_argument("--smpp-address", default="", help="host:port for --smpp-target external")
    parser.add_argument("--smpp-system-id", default="", help="bind system_id (default per target)")
    parser.add_argument(
        "--smpp-password",
        default="",
        help="bind password (default: the simulator's, or $GATEWAY_DEMO_SMPP_PASSWORD)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.list:
        width = max(len(name) for name in (*SCENARIOS, *EXTRA_SCENARIOS))
        for scenario in (*SCENARIOS.values(), *EXTRA_SCENARIOS.values()):
            print(f"{scenario.name:<{width}}  {scenario.summary}")
        return 0
    known = {**SCENARIOS, **EXTRA_SCENARIOS}
    unknown = [n for n in args.names if n not in known]
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)}; see --list", file=sys.stderr)
        return 2
    if args.runs is not None and args.runs < 1:
        print("--runs must be at least 1", file=sys.stderr)
        return 2
    mode = SMOKE if args.smoke else QUICK if args.quick else FULL
    ctx = Context(
        mode=mode,
        results_dir=args.results_dir,
        smpp_target=SmppTarget(
            kind=args.smpp_target,
            address=args.smpp_address,
            system_id=args.smpp_system_id,
            password=args.smpp_password,
        ),
        postgres_dsn=args.postgres_dsn,
        redis_url=args.redis_url,
        runs_override=args.runs,
        backlog_postgres=args.backlog_postgres,
    )
    names = args.names or list(SCENARIOS)
    results: list[ScenarioResult] = []
    suite_started = time.monotonic()
    for name in names:
        print(f"== {name} ({mode.name}, {ctx.runs} run(s))", file=sys.stderr, flush=True)
        started = time.monotonic()
        try:
            result = known[name].run(ctx)
        except Exception as exc:
            traceback.print_exc()
            result = ScenarioResult(name, mode.name, "did not complete")
            result.error = f"{type(exc).__name__}: {exc}".replace("\n", " ")[:500]
        result.elapsed = time.monotonic() - started
        path = result.write(ctx.results_dir)
        verdict = "ok" if result.ok else "FAILED"
        print(f"   {verdict} in {result.elapsed:.1f}s -> {path}", file=sys.stderr, flush=True)
        results.append(result)
    print()
    print(markdown_table(results))
    print()
    print(
        f"{len(results)} scenario(s) in {time.monotonic() - suite_started:.0f}s; "
        f"results in {ctx.results_dir}"
    )
    failed = [r.scenario for r in results if not r.ok]
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
