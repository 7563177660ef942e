"""A whole gateway in this process on each store (SQLite and PostgreSQL), and an API client
for its demo account: import the fixtures `any_gateway` and `any_api` into a test module."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import Gateway
from gateway.config import load_settings
from tests.conftest import DEMO_KEY, DEMO_SMPP_PASSWORD

ADMIN_KEY = "admin_test_key_0123456789abcdefghijklmnop"


def gateway_settings(
    tmp_path: Path, store: str, request: pytest.FixtureRequest, **extra: Any
) -> Any:
    if store == "sqlite":
        database: dict[str, Any] = {"database_url": f"sqlite:///{tmp_path}/gw.db"}
    else:
        database = {
            "database_url": request.getfixturevalue("postgres_dsn"),
            "database_schema": request.getfixturevalue("pg_schema"),
        }
    return load_settings(
        **database,
        http_port=0,
        simulator_port=0,
        smpp_port=0,
        demo_key=DEMO_KEY,
        demo_smpp_password=DEMO_SMPP_PASSWORD,
        admin_key=ADMIN_KEY,
        node_id="itest",
        simulator_receipt_delay=0.01,
        webhook_allow_private=True,
        webhook_retry_base=0.05,
        webhook_retry_cap=0.2,
        **extra,
    )


@pytest.fixture(params=["sqlite", "postgres"])
async def any_gateway(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Gateway]:
    for name in list(os.environ):
        if name.startswith("GATEWAY_"):
            monkeypatch.delenv(name)
    gw = Gateway(gateway_settings(tmp_path, request.param, request))
    await gw.start()
    try:
        yield gw
    finally:
        await gw.stop()


@pytest.fixture
async def any_api(any_gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{any_gateway.http_port}",
        headers={"Authorization": f"Bearer {DEMO_KEY}"},
        timeout=10,
    ) as client:
        yield client
