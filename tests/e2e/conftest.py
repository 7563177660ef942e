from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment selecting a fresh store of each kind for a gateway process."""
    if request.param == "sqlite":
        yield {"GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path}/gateway.db"}
    else:
        dsn = request.getfixturevalue("postgres_dsn")
        schema = request.getfixturevalue("pg_schema")
        yield {"GATEWAY_DATABASE_URL": dsn, "GATEWAY_DATABASE_SCHEMA": schema}
