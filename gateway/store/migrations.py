"""Numbered SQL migrations per dialect, read from the top-level `migrations/` folder."""

from __future__ import annotations

import os
import re
from pathlib import Path

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def migrations_dir() -> Path:
    override = os.environ.get("GATEWAY_MIGRATIONS_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "migrations"


def load_migrations(dialect: str) -> list[tuple[int, str]]:
    """(version, sql) in order. A duplicate number is refused: it means a bad merge. Gaps are
    allowed, since branches are given numbers ahead of the merges that fill the ones between."""
    folder = migrations_dir() / dialect
    found: list[tuple[int, str]] = []
    for path in sorted(folder.iterdir()):
        match = _NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), path.read_text(encoding="utf-8")))
    versions = [v for v, _ in found]
    if len(set(versions)) != len(versions) or any(v < 1 for v in versions):
        raise RuntimeError(f"migrations in {folder} repeat a number: {versions}")
    return found


def split_statements(sql: str) -> list[str]:
    """Split a migration into statements (our migrations keep `;` out of literals)."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
