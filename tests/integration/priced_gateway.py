"""A whole gateway with a priced default route, on SQLite or PostgreSQL, and API clients for
two accounts: the fixtures of the batch, idempotency and cancel API tests."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from gateway.app import Gateway
from gateway.config import load_settings
from gateway.domain import new_id
from gateway.keys import hash_key
from tests.conftest import DEMO_KEY, DEMO_SMPP_PASSWORD

PRICE = 0.05  # per segment on the default route
OTHER_KEY = "gw_other_account_key_0123456789abc"


@pytest.fixture(params=["sqlite", "postgres"])
async def priced(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Gateway]:
    for name in list(os.environ):
        if name.startswith("GATEWAY_"):
            monkeypatch.delenv(name)
    database: dict[str, object] = {"database_url": f"sqlite:///{tmp_path}/gw.db"}
    if request.param == "postgres":
        database = {
            "database_url": request.getfixturevalue("postgres_dsn"),
            "database_schema": request.getfixturevalue("pg_schema"),
        }
    settings = load_settings(
        **database,
        http_port=0,
        simulator_port=0,
        smpp_port=0,
        demo_key=DEMO_KEY,
        demo_smpp_password=DEMO_SMPP_PASSWORD,
        node_id="batches",
        simulator_receipt_delay=0.01,
        default_price=PRICE,
    )
    gateway = Gateway(settings)
    await gateway.start()
    try:
        yield gateway
    finally:
        await gateway.stop()


@pytest.fixture
async def client(priced: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(priced, DEMO_KEY) as c:
        yield c


@pytest.fixture
async def other(priced: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a second account."""
    assert priced.store is not None
    account = await priced.store.create_account(account_id=new_id(), name="other", now=time.time())
    await priced.store.add_api_key(
        account_id=account.id, key_hash=hash_key(OTHER_KEY), prefix=OTHER_KEY[:9], now=time.time()
    )
    async with _client(priced, OTHER_KEY) as c:
        yield c


def _client(gateway: Gateway, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{gateway.http_port}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def submits(gateway: Gateway) -> int:
    """submit_sm the simulator (the carrier) has accepted so far."""
    assert gateway.simulator is not None
    return gateway.simulator.stats.submits


async def wait_for_status(client: httpx.AsyncClient, message_id: str, status: str) -> None:
    async def reached() -> bool:
        view = (await client.get(f"/v1/messages/{message_id}")).json()
        return bool(view["status"] == status)

    await eventually(reached)
