"""The benchmarks still work: each scenario in smoke mode (a few messages, one run), through the
same command `make bench` uses. Correctness only: it ran, its counts agree, its JSON was
written. No timing is asserted: this machine's speed is not what a test should judge."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.scenarios import EXTRA_SCENARIOS, SCENARIOS

ROOT = Path(__file__).resolve().parents[2]


def _bench(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_list_names_every_scenario() -> None:
    done = _bench("--list")
    assert done.returncode == 0, done.stderr
    listed = [line.split()[0] for line in done.stdout.splitlines() if line.strip()]
    assert listed == [*SCENARIOS, *EXTRA_SCENARIOS]


def test_extra_scenarios_run_only_by_name() -> None:
    """`make bench` (no names) runs SCENARIOS; kannel installs a package: only when named."""
    assert "kannel" in EXTRA_SCENARIOS and "kannel" not in SCENARIOS


def test_unknown_scenario_is_a_usage_error() -> None:
    done = _bench("no-such-scenario")
    assert done.returncode == 2 and "unknown scenario" in done.stderr


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_smoke(name: str, tmp_path: Path, postgres_dsn: str) -> None:
    done = _bench(name, "--smoke", "--results-dir", str(tmp_path), "--postgres-dsn", postgres_dsn)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    result = json.loads((tmp_path / f"{name}.json").read_text())
    assert result["scenario"] == name and result["mode"] == "smoke"
    assert result["ok"] and result["error"] is None
    assert result["runs"] == 1
    assert result["checks"] and all(check["ok"] for check in result["checks"]), result["checks"]
    assert result["figures"], "no figures reported"
    for figure in result["figures"]:
        assert figure["values"], figure
    assert f"**{name}**" in done.stdout, "the Markdown table lacks the scenario"


def test_counts_agree_end_to_end(tmp_path: Path) -> None:
    """The end-to-end counts are what the scenario says they are, message for message."""
    done = _bench("end-to-end-rest", "--smoke", "--results-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    details = json.loads((tmp_path / "end-to-end-rest.json").read_text())["details"]
    (run,) = details["runs"]
    sent = details["messages"]
    assert run["http_202"] == run["accepted"] == run["submitted_upstream"] == run["delivered"]
    assert run["delivered"] == sent and run["transport_errors"] == 0


def test_failed_check_fails_the_command(tmp_path: Path) -> None:
    """An unreachable PostgreSQL must fail micro-store, not pass it quietly."""
    done = _bench(
        "micro-store",
        "--smoke",
        "--results-dir",
        str(tmp_path),
        "--postgres-dsn",
        "postgresql://postgres@127.0.0.1:1/none",
    )
    assert done.returncode == 1, done.stdout
    result = json.loads((tmp_path / "micro-store.json").read_text())
    assert not result["ok"]
    assert any(not c["ok"] and "PostgreSQL" in c["name"] for c in result["checks"])
