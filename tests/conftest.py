"""Shared fixtures: the machine's PostgreSQL and Redis, used for real.

If a service is down the fixture starts it with the machine's documented command; if it still
cannot be reached, the test fails loudly (never a silent skip).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from gateway.app import Gateway
from gateway.config import load_settings
from gateway.store import Store, open_store

POSTGRES_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _ensure_service(name: str, port: int, start: list[str]) -> None:
    if _reachable("127.0.0.1", port):
        return
    if shutil.which(start[0]) is not None:
        subprocess.run(start, check=False, capture_output=True, timeout=60)
        for _ in range(50):
            if _reachable("127.0.0.1", port):
                return
            time.sleep(0.2)
    pytest.fail(
        f"{name} is not reachable on 127.0.0.1:{port} and could not be started", pytrace=False
    )


def _pg_start_command() -> list[str]:
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    version = versions[-1] if versions else "15"
    return ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"]


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    _ensure_service("PostgreSQL", 5432, _pg_start_command())
    return POSTGRES_DSN


@pytest.fixture(scope="session")
def redis_url() -> str:
    _ensure_service(
        "Redis",
        6379,
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
    )
    return REDIS_URL


@pytest.fixture
def pg_schema(postgres_dsn: str) -> Iterator[str]:
    """A schema of its own for one test, dropped afterwards, so runs never collide."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield schema
    import asyncio

    import asyncpg

    async def drop() -> None:
        conn = await asyncpg.connect(postgres_dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()

    asyncio.run(drop())


@pytest.fixture(params=["sqlite", "postgres"])
def store_address(request: pytest.FixtureRequest, tmp_path: object) -> tuple[str, str | None]:
    """Where an empty store of each kind lives: (URL, schema). Tests that open it several
    times, as several nodes would, take this; the others take `store`."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store.db", None
    return request.getfixturevalue("postgres_dsn"), request.getfixturevalue("pg_schema")


@pytest.fixture
async def store(store_address: tuple[str, str | None]) -> AsyncIterator[Store]:
    """A migrated, empty store of each kind."""
    url, schema = store_address
    s = open_store(url, schema=schema)
    await s.open()
    await s.migrate()
    try:
        yield s
    finally:
        await s.close()


DEMO_KEY = "gw_integration_test_key_0123456789"
DEMO_SMPP_PASSWORD = "pw123456"


@pytest.fixture
async def gateway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Gateway]:
    """A whole gateway in this process: SQLite, the simulator, HTTP on a free port."""
    for name in list(os.environ):
        if name.startswith("GATEWAY_"):
            monkeypatch.delenv(name)
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path}/gw.db",
        http_port=0,
        simulator_port=0,
        smpp_port=0,
        demo_key=DEMO_KEY,
        demo_smpp_password=DEMO_SMPP_PASSWORD,
        node_id="itest",
        simulator_receipt_delay=0.01,
    )
    gw = Gateway(settings)
    await gw.start()
    try:
        yield gw
    finally:
        await gw.stop()


@pytest.fixture
async def api(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{gateway.http_port}",
        headers={"Authorization": f"Bearer {DEMO_KEY}"},
        timeout=10,
    ) as client:
        yield client
