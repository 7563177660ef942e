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
    """(version, sql) in order. A duplicate number is refused: it means a bad merge. A gap is
    allowed: numbers are reserved per branch of work, so a branch may hold 0011 before 0008
    is merged, and a store applies whichever versions it has not applied yet, in order."""
    folder = migrations_dir() / dialect
    found: list[tuple[int, str]] = []
    for path in sorted(folder.iterdir()):
        match = _NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), path.read_text(encoding="utf-8")))
    versions = [v for v, _ in found]
    if len(set(versions)) != len(versions) or not versions or versions[0] != 1:
        raise RuntimeError(
            f"migrations in {folder} are not numbered uniquely from 0001: {versions}"
        )
    return found


def split_statements(sql: str) -> list[str]:
    """Split a migration into statements (our migrations keep `;` out of literals)."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
