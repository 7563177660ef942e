"""Bounded fuzz runs of the PDU decoder, the server-side SMPP session and the text engine.

    python -m tests.fuzz                      # 1,000,000 cases per target, mutational, all cores
    python -m tests.fuzz --cases 20000 --target decoder --seed 7
    python -m tests.fuzz --engine atheris --target session --cases 1000000   # coverage-guided
    python -m tests.fuzz --save               # write each crash input under tests/fuzz/corpus/

Prints cases, seconds and cases/s per target and every distinct crash (exception and place,
with the shortest input); exits 1 if any target crashed. Lives under tests/ because it checks
the same contracts as the unit tests and its crash corpus is replayed by them
(tests/unit/test_fuzz_regressions.py); benchmarks/ measures speed, not correctness.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

TARGET_NAMES = ("decoder", "session", "text")


def _job(args: tuple[str, int, int, float | None]) -> object:
    from tests.fuzz.engine import run

    target, cases, seed, deadline = args
    return run(target, cases, seed=seed, deadline=deadline)


def _mutational(
    targets: list[str], cases: int, jobs: int, seed: int, seconds: float | None, save: bool
) -> int:
    from tests.fuzz.engine import Result
    from tests.fuzz.engine import save as save_input

    failed = 0
    print(f"{'target':<10}{'cases':>12}{'seconds':>10}{'cases/s':>12}  crashes")
    for target in targets:
        deadline = None if seconds is None else time.monotonic() + seconds
        share = [cases // jobs + (1 if i < cases % jobs else 0) for i in range(jobs)]
        start = time.monotonic()
        total = Result(target)
        with ProcessPoolExecutor(jobs) as pool:
            for part in pool.map(
                _job, [(target, n, seed * 1000 + i, deadline) for i, n in enumerate(share)]
            ):
                assert isinstance(part, Result)
                total.merge(part)
        wall = time.monotonic() - start
        print(
            f"{target:<10}{total.cases:>12,}{wall:>10.1f}{total.cases / wall:>12,.0f}"
            f"  {len(total.crashes)}",
            flush=True,
        )
        for crash in total.crashes.values():
            failed += 1
            where = f" -> {save_input(target, crash.data)}" if save else ""
            print(f"  CRASH {crash.key}: {crash.error}\n    input {crash.data.hex()}{where}")
    return 1 if failed else 0


def _atheris(target: str, cases: int) -> int:
    try:
        import atheris  # type: ignore[import-not-found]
    except ImportError:
        print("atheris is not installed: pip install -e '.[fuzz]'", file=sys.stderr)
        return 2
    import tempfile

    from tests.fuzz import targets
    from tests.fuzz.engine import corpus

    atheris.instrument_all()  # every loaded module's bytecode, for coverage feedback
    function = targets.TARGETS[target]
    # libFuzzer writes what it learns into its first corpus directory: a scratch one, seeded
    # with the target's seeds and the committed crash corpus.
    scratch = Path(tempfile.mkdtemp(prefix=f"fuzz-{target}-"))
    for i, data in enumerate([*targets.seeds(target), *corpus(target)]):
        (scratch / f"seed-{i}").write_bytes(data)
    argv = [sys.argv[0], f"-runs={cases}", "-print_final_stats=1", "-max_len=4096", str(scratch)]
    start = time.monotonic()
    atheris.Setup(argv, function)
    try:
        atheris.Fuzz()
    finally:
        wall = time.monotonic() - start
        print(f"{target}: {cases:,} runs in {wall:.1f}s ({cases / wall:,.0f}/s)", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fuzz", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--target", choices=(*TARGET_NAMES, "all"), default="all")
    parser.add_argument("--cases", type=int, default=1_000_000, help="per target")
    parser.add_argument("--seconds", type=float, default=None, help="stop each target by then")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--engine", choices=("mutational", "atheris"), default="mutational")
    parser.add_argument("--save", action="store_true", help="write crash inputs to the corpus")
    args = parser.parse_args(argv)
    targets = list(TARGET_NAMES) if args.target == "all" else [args.target]
    if args.engine == "atheris":
        if len(targets) != 1:
            parser.error("atheris fuzzes one --target per run")
        return _atheris(targets[0], args.cases)
    return _mutational(targets, args.cases, max(args.jobs, 1), args.seed, args.seconds, args.save)


if __name__ == "__main__":
    sys.exit(main())
