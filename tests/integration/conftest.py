from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gateway.app import Gateway
from gateway.config import load_settings

DEMO_KEY = "gw_integration_test_key_0123456789"


@pytest.fixture
async def gateway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Gateway]:
    """A whole gateway in this process: SQLite, the simulator, HTTP on a free port."""
    for name in list(__import__("os").environ):
        if name.startswith("GATEWAY_"):
            monkeypatch.delenv(name)
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path}/gw.db",
        http_port=0,
        simulator_port=0,
        smpp_port=0,
        demo_key=DEMO_KEY,
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
