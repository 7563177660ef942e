"""A connector shipped as its own package: pip installs it, the gateway finds it by entry point."""

from __future__ import annotations

import asyncio
import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.app import Gateway
from gateway.config import load_settings
from gateway.connector import ConnectorRegistry
from tests.conftest import DEMO_KEY

PACKAGE = Path(__file__).parent.parent / "fixtures" / "echo_connector"


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The package built and installed by pip into a directory of its own, put on sys.path as
    site-packages would be (offline: no index, the venv's setuptools and wheel)."""
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--no-build-isolation", "--target", str(target), str(PACKAGE)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    monkeypatch.syspath_prepend(str(target))
    importlib.invalidate_caches()
    yield target
    sys.modules.pop("gw_echo_connector", None)


async def test_an_installed_connector_package_is_discovered_and_carries_traffic(
    installed: Path, tmp_path: Path
) -> None:
    assert (installed / "gw_echo_connector.py").exists()
    assert "echo" in ConnectorRegistry.discover().factories
    gateway = Gateway(
        load_settings(
            database_url=f"sqlite:///{tmp_path}/gw.db", http_port=0, smpp_port=0,
            simulator_port=0, demo_key=DEMO_KEY, node_id="oot",
            connectors={"echo1": {"kind": "echo", "prefix": "third-party"}},
            routes=[{"prefixes": ["+33"], "connectors": ["echo1"]}],
        )
    )  # fmt: skip
    await gateway.start()
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{gateway.http_port}",
            headers={"Authorization": f"Bearer {DEMO_KEY}"},
        ) as api:
            response = await api.post(
                "/v1/messages", json={"to": "+33612345678", "from": "Acme", "text": "bonjour"}
            )
            assert response.status_code == 202
            message_id = response.json()["id"]
            for _ in range(100):
                body = (await api.get(f"/v1/messages/{message_id}")).json()
                if body["status"] == "delivered":
                    break
                await asyncio.sleep(0.05)
        assert body["status"] == "delivered", body
        assert body["parts"][0]["connector"] == "echo1"
        assert body["upstream_ids"] == ["third-party-1"]
        connector = gateway.connectors["echo1"]
        assert type(connector).__module__ == "gw_echo_connector"
        assert [p.destination for p in connector.sent] == ["+33612345678"]  # type: ignore[attr-defined]
    finally:
        await gateway.stop()
