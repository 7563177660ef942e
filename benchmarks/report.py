"""Figures, checks and scenario results: statistics over runs, the JSON files and the table.

A figure holds one value per run; the report quotes its median and its spread (min - max), next
to a baseline measured under the same conditions or to a target the project set, and their
ratio. A check is a correctness condition (counts that must agree): one failed check fails the
scenario, and `python -m benchmarks` exits non-zero.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def percentile(sorted_samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of already sorted samples; NaN when empty."""
    if not sorted_samples:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_samples)))
    return sorted_samples[min(rank, len(sorted_samples)) - 1]


@dataclass
class Figure:
    name: str
    unit: str
    values: list[float] = field(default_factory=list)
    # Measured under the same conditions (same store, same load generator) ...
    baseline: list[float] = field(default_factory=list)
    baseline_label: str = ""
    # ... or a number the project set, printed as "≥ target" / "≤ target".
    target: float | None = None
    higher_is_better: bool = True

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else math.nan

    @property
    def low(self) -> float:
        return min(self.values) if self.values else math.nan

    @property
    def high(self) -> float:
        return max(self.values) if self.values else math.nan

    @property
    def reference(self) -> float | None:
        if self.baseline:
            return statistics.median(self.baseline)
        return self.target

    @property
    def ratio(self) -> float | None:
        ref = self.reference
        if ref is None or ref == 0 or math.isnan(self.median):
            return None
        return self.median / ref

    @property
    def meets_target(self) -> bool | None:
        if self.target is None or math.isnan(self.median):
            return None
        return self.median >= self.target if self.higher_is_better else self.median <= self.target

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(median=self.median, min=self.low, max=self.high, ratio=self.ratio)
        if self.baseline:
            data["baseline_median"] = statistics.median(self.baseline)
        if self.target is not None:
            data["meets_target"] = self.meets_target
        return data


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


class Figures:
    """Figures of one scenario, in the order first recorded."""

    def __init__(self) -> None:
        self._by_name: dict[str, Figure] = {}

    def _get(self, name: str, unit: str, higher_is_better: bool) -> Figure:
        figure = self._by_name.get(name)
        if figure is None:
            figure = Figure(name=name, unit=unit, higher_is_better=higher_is_better)
            self._by_name[name] = figure
        return figure

    def record(
        self,
        name: str,
        value: float,
        unit: str,
        *,
        higher_is_better: bool = True,
        target: float | None = None,
    ) -> Figure:
        figure = self._get(name, unit, higher_is_better)
        figure.values.append(value)
        if target is not None:
            figure.target = target
        return figure

    def record_baseline(self, name: str, value: float, unit: str, label: str) -> None:
        """A baseline value for `name`, measured alongside it (one per run)."""
        figure = self._get(name, unit, True)
        figure.baseline.append(value)
        figure.baseline_label = label

    def record_latencies(
        self,
        prefix: str,
        samples: Iterable[float],
        *,
        baseline: Iterable[float] | None = None,
        baseline_label: str = "",
    ) -> None:
        """p50/p95/p99/max in milliseconds of `samples` (seconds), optionally with a baseline."""
        ordered = sorted(samples)
        base = sorted(baseline) if baseline is not None else None
        for label, q in (("p50", 50.0), ("p95", 95.0), ("p99", 99.0), ("max", 100.0)):
            name = f"{prefix} latency {label}"
            self.record(name, percentile(ordered, q) * 1000, "ms", higher_is_better=False)
            if base is not None:
                self.record_baseline(name, percentile(base, q) * 1000, "ms", baseline_label)

    def __iter__(self) -> Any:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)


@dataclass
class ScenarioResult:
    scenario: str
    mode: str
    target: str  # what was measured, e.g. "gateway process, SQLite, built-in simulator upstream"
    runs: int = 0
    figures: Figures = field(default_factory=Figures)
    checks: list[Check] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)  # raw per-run counts, settings
    started_at: float = field(default_factory=time.time)
    elapsed: float = 0.0
    error: str | None = None

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append(Check(name, ok, detail))
        return ok

    @property
    def ok(self) -> bool:
        return self.error is None and all(c.ok for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "mode": self.mode,
            "target": self.target,
            "ok": self.ok,
            "error": self.error,
            "runs": self.runs,
            "started_at": self.started_at,
            "elapsed_seconds": round(self.elapsed, 3),
            "environment": environment(),
            "figures": [f.to_json() for f in self.figures],
            "checks": [asdict(c) for c in self.checks],
            "details": self.details,
        }

    def write(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.scenario}.json"
        path.write_text(json.dumps(self.to_json(), indent=2, default=_jsonable) + "\n")
        return path


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return str(value)


_ENVIRONMENT: dict[str, Any] = {}


def environment() -> dict[str, Any]:
    """Where the numbers come from: machine, Python, and the commit (dirty or not)."""
    if not _ENVIRONMENT:
        _ENVIRONMENT.update(
            python=platform.python_version(),
            machine=platform.machine(),
            cpus=os.cpu_count(),
            load_average=os.getloadavg(),
            commit=_git("rev-parse", "--short", "HEAD"),
            dirty=bool(_git("status", "--porcelain", "--untracked-files=no")),
        )
    return _ENVIRONMENT


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=False
        )
    except OSError:
        return ""
    return done.stdout.strip()


# --- the Markdown table --------------------------------------------------------------------


def format_number(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def _value_cell(figure: Figure) -> str:
    if not figure.values:
        return "n/a"
    cell = f"{format_number(figure.median)} {figure.unit}"
    if len(figure.values) > 1:
        cell += f" ({format_number(figure.low)} - {format_number(figure.high)})"
    return cell


def _baseline_cell(figure: Figure) -> str:
    if figure.baseline:
        median = format_number(statistics.median(figure.baseline))
        return f"{median} {figure.unit} {figure.baseline_label}"
    if figure.target is not None:
        sign = "≥" if figure.higher_is_better else "≤"
        verdict = "met" if figure.meets_target else "MISSED"
        return f"{sign} {format_number(figure.target)} {figure.unit} target ({verdict})"
    return ""


def markdown_table(results: Sequence[ScenarioResult]) -> str:
    """One row per figure: median (min - max over runs), baseline or target, ratio."""
    lines = [
        "| scenario | figure | value: median (min - max) | baseline | ratio |",
        "|---|---|---|---|---|",
    ]
    for result in results:
        status = "" if result.ok else " **FAILED**"
        lines.append(
            f"| **{result.scenario}**{status} | {result.target}, {result.runs} run(s) | | | |"
        )
        for figure in result.figures:
            ratio = figure.ratio
            ratio_cell = "" if ratio is None else f"{ratio:.2f}x"
            lines.append(
                f"| | {figure.name} | {_value_cell(figure)} | {_baseline_cell(figure)} "
                f"| {ratio_cell} |"
            )
        lines.extend(
            f"| | check failed: {c.name} | {c.detail} | | |" for c in result.checks if not c.ok
        )
        if result.error:
            lines.append(f"| | error | {result.error} | | |")
    return "\n".join(lines)
