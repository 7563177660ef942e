"""Gateways with the admin API on either store, for the accounts and admin tests."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import Gateway
from gateway.config import load_settings
from tests.conftest import DEMO_KEY, DEMO_SMPP_PASSWORD

ADMIN_KEY = "admin-key-for-the-tests-0123456789abcdef"


def store_settings(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """Settings naming a fresh store of the kind the test is parametrised with."""
    if request.param == "sqlite":
        return {"database_url": f"sqlite:///{tmp_path}/gw.db"}
    return {
        "database_url": request.getfixturevalue("postgres_dsn"),
        "database_schema": request.getfixturevalue("pg_schema"),
    }


@contextlib.asynccontextmanager
async def running(
    monkeypatch: pytest.MonkeyPatch, *, node_id: str, **settings: Any
) -> AsyncIterator[Gateway]:
    for name in list(os.environ):
        if name.startswith("GATEWAY_"):
            monkeypatch.delenv(name)
    gw = Gateway(
        load_settings(
            http_port=0,
            simulator_port=0,
            smpp_port=0,
            demo_key=DEMO_KEY,
            demo_smpp_password=DEMO_SMPP_PASSWORD,
            admin_key=ADMIN_KEY,
            node_id=node_id,
            simulator_receipt_delay=0.01,
            **settings,
        )
    )
    await gw.start()
    try:
        yield gw
    finally:
        await gw.stop()


def client(gw: Gateway, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{gw.http_port}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )


async def new_account(admin: httpx.AsyncClient, name: str, **limits: Any) -> str:
    """Create an account and a key for it through the admin API; returns the key."""
    created = await admin.post("/v1/admin/accounts", json={"name": name, **limits})
    assert created.status_code == 201, created.text
    key = await admin.post(f"/v1/admin/accounts/{name}/keys")
    assert key.status_code == 201, key.text
    value: str = key.json()["key"]
    return value


def sms(to: str = "+4915112345678", sender: str = "Acme", text: str = "hello") -> dict[str, str]:
    return {"to": to, "from": sender, "text": text}
