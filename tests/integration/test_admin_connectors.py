"""Connectors made, changed, stopped, started and deleted through `/v1/admin/connectors` on a
running gateway, on both stores: a second SMSC simulator is the carrier the new connector binds
to, and the built-in one stays the default route."""

from __future__ import annotations

import asyncio
import logging
import time
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import Gateway
from gateway.config import connector_options
from gateway.simulator import Simulator, SimulatorConfig
from tests.conftest import DEMO_KEY
from tests.integration.admin_nodes import ADMIN_KEY, client, running, sms, store_settings
from tests.integration.http_carrier import CALLBACK_SECRET, TOKEN, TestCarrier

EXAMPLE = Path(__file__).parents[2] / "connectors" / "http" / "example.toml"

PASSWORD = "b-secret"
TO_B = "+4915112345678"  # routed to carrier-b by the tests' route


@pytest.fixture
async def carrier() -> AsyncIterator[Simulator]:
    """Carrier B: an SMSC that answers each submit after 0.2 s, so submits are in flight
    when the connector is replaced."""
    sim = Simulator(
        SimulatorConfig(
            port=0, password=PASSWORD, receipt_delay=0.01, submit_latency=0.2, window=1000
        )
    )
    await sim.start()
    yield sim
    await sim.stop()


@pytest.fixture(params=["sqlite", "postgres"])
async def node(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Gateway]:
    async with running(monkeypatch, node_id="conn1", **store_settings(request, tmp_path)) as gw:
        yield gw


@pytest.fixture
async def admin(node: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with client(node, ADMIN_KEY) as c:
        yield c


@pytest.fixture
async def demo(node: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with client(node, DEMO_KEY) as c:
        yield c


def smpp_options(sim: Simulator, **more: Any) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": sim.port,
        "system_id": "gateway",
        "password": PASSWORD,
        "binds": 1,
        "window": 10,
        **more,
    }


async def until(seconds: float, check: Any) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def create_b(admin: httpx.AsyncClient, sim: Simulator, **more: Any) -> dict[str, Any]:
    made = await admin.post(
        "/v1/admin/connectors",
        json={"name": "carrier-b", "kind": "smpp", "options": smpp_options(sim, **more)},
    )
    assert made.status_code == 201, made.text

    async def bound() -> bool:
        body = (await admin.get("/v1/admin/connectors/carrier-b")).json()
        return bool(body["binds_up"] == 1)

    await until(5, bound)
    body: dict[str, Any] = made.json()
    return body


async def route_b(admin: httpx.AsyncClient, *connectors: str) -> None:
    put = await admin.put(
        "/v1/admin/routes/to-b", json={"connectors": list(connectors), "prefixes": ["+4915"]}
    )
    assert put.status_code == 200, put.text


async def send(demo: httpx.AsyncClient, count: int = 1) -> list[str]:
    ids = []
    for _ in range(count):
        sent = await demo.post("/v1/messages", json=sms(to=TO_B))
        assert sent.status_code == 202, sent.text
        ids.append(sent.json()["id"])
    return ids


async def statuses(demo: httpx.AsyncClient, ids: list[str]) -> list[str]:
    return [(await demo.get(f"/v1/messages/{i}")).json()["status"] for i in ids]


async def all_delivered(demo: httpx.AsyncClient, ids: list[str], seconds: float = 10) -> None:
    async def done() -> bool:
        return set(await statuses(demo, ids)) == {"delivered"}

    await until(seconds, done)


async def test_a_connector_made_here_carries_traffic_and_is_replaced_without_loss(
    node: Gateway,
    admin: httpx.AsyncClient,
    demo: httpx.AsyncClient,
    carrier: Simulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    made = await create_b(admin, carrier)
    assert (made["source"], made["kind"], made["state"]) == ("admin", "smpp", "running")
    assert made["secrets"] == ["password"] and "password" not in made["options"]
    assert made["options"]["port"] == carrier.port
    listed = (await admin.get("/v1/admin/connectors")).json()["data"]
    assert [c["name"] for c in listed] == [node.settings.default_connector, "carrier-b"]

    # A stored route naming the new connector is taken at once, and traffic flows through it.
    await route_b(admin, "carrier-b")
    first = await send(demo)
    await all_delivered(demo, first)
    assert carrier.stats.submits == 1

    # Replacing it (new options) while submits are in flight: every one is answered and
    # recorded, none is sent twice.
    ids = await send(demo, 30)
    await asyncio.sleep(0.1)
    live = (await admin.get("/v1/admin/connectors/carrier-b")).json()
    assert live["in_flight"] >= 1  # waiting for the carrier's 0.2 s answer
    changed = await admin.patch(
        "/v1/admin/connectors/carrier-b", json={"options": {"window": 5}, "rate": 500}
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["options"]["window"] == 5 and body["rate"] == 500
    assert body["secrets"] == ["password"]  # kept without being sent again
    await all_delivered(demo, ids)
    assert carrier.stats.submits == 31
    assert carrier.stats.binds == 2  # the replacement bound anew
    # The password was never logged.
    assert not [r for r in caplog.records if PASSWORD in r.getMessage()]


async def test_stop_fails_over_or_waits_and_start_resumes(
    node: Gateway, admin: httpx.AsyncClient, demo: httpx.AsyncClient, carrier: Simulator
) -> None:
    default = node.settings.default_connector
    assert node.simulator is not None
    await create_b(admin, carrier)
    await route_b(admin, "carrier-b", default)

    stopped = await admin.post("/v1/admin/connectors/carrier-b/stop")
    assert stopped.status_code == 200, stopped.text
    assert (stopped.json()["state"], stopped.json()["enabled"]) == ("stopped", False)
    assert stopped.json()["binds"] == []
    ready = (await demo.get("/readyz")).json()
    assert "carrier-b" in ready["stopped_connectors"] and "carrier-b" not in ready["upstreams"]
    scraped = (await demo.get("/metrics")).text
    assert 'gateway_upstream_binds_up{connector="carrier-b"}' not in scraped
    before = node.simulator.stats.submits
    # Stopped: the route's next connector (the default one) carries it.
    await all_delivered(demo, await send(demo))
    assert carrier.stats.submits == 0 and node.simulator.stats.submits == before + 1

    # With nowhere else to go, a message waits (queued, no attempt spent) ...
    await route_b(admin, "carrier-b")
    waiting = await send(demo)
    await asyncio.sleep(1.0)
    assert (await statuses(demo, waiting)) in (["accepted"], ["queued"])
    assert carrier.stats.submits == 0
    # ... and goes once the connector is started again.
    started = await admin.post("/v1/admin/connectors/carrier-b/start")
    assert started.status_code == 200 and started.json()["state"] == "running"
    assert "carrier-b" in (await demo.get("/readyz")).json()["upstreams"]
    await all_delivered(demo, waiting, seconds=15)
    assert carrier.stats.submits == 1

    # A configured connector may be stopped and started too.
    stop_default = await admin.post(f"/v1/admin/connectors/{default}/stop")
    assert stop_default.status_code == 200 and stop_default.json()["source"] == "config"
    assert (await admin.post(f"/v1/admin/connectors/{default}/start")).json()["state"] == (
        "running"
    )


async def test_delete_is_refused_while_a_route_names_the_connector(
    admin: httpx.AsyncClient, carrier: Simulator
) -> None:
    await create_b(admin, carrier)
    await route_b(admin, "carrier-b")
    refused = await admin.delete("/v1/admin/connectors/carrier-b")
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "connector.in_use" and "to-b" in refused.json()["detail"]

    assert (await admin.delete("/v1/admin/routes/to-b")).status_code == 204
    assert (await admin.delete("/v1/admin/connectors/carrier-b")).status_code == 204
    gone = await admin.get("/v1/admin/connectors/carrier-b")
    assert gone.status_code == 404 and gone.json()["code"] == "connector.not_found"
    again = await admin.delete("/v1/admin/connectors/carrier-b")
    assert again.status_code == 404 and again.json()["code"] == "connector.not_found"
    # Its binds are closed.
    await until(5, lambda: _no_binds(carrier))


async def _no_binds(sim: Simulator) -> bool:
    return not sim._connections


async def test_bad_definitions_are_refused_with_stable_codes(
    node: Gateway, admin: httpx.AsyncClient, carrier: Simulator
) -> None:
    async def create(**body: Any) -> httpx.Response:
        return await admin.post("/v1/admin/connectors", json=body)

    unknown = await create(name="x", kind="carrier-pigeon", options={})
    assert unknown.status_code == 422 and unknown.json()["code"] == "connector.invalid"
    assert "carrier-pigeon" in unknown.json()["detail"]
    missing = await create(name="x", kind="smpp", options={"port": 2775})
    assert missing.status_code == 422 and missing.json()["code"] == "connector.invalid"
    bad = await create(name="x", kind="smpp", options=smpp_options(carrier, receipts_for="some"))
    assert bad.status_code == 422 and "receipts_for" in bad.json()["detail"]
    negative = await create(name="x", kind="smpp", options=smpp_options(carrier), rate=-1)
    assert negative.status_code == 422
    assert negative.json()["code"] == "request.validation_failed"
    badname = await create(name="no spaces", kind="smpp", options=smpp_options(carrier))
    assert badname.status_code == 422

    await create_b(admin, carrier)
    duplicate = await create(name="carrier-b", kind="smpp", options=smpp_options(carrier))
    assert duplicate.status_code == 409 and duplicate.json()["code"] == "connector.exists"
    configured = await create(
        name=node.settings.default_connector, kind="smpp", options=smpp_options(carrier)
    )
    assert configured.status_code == 409 and configured.json()["code"] == "connector.exists"
    bad_patch = await admin.patch(
        "/v1/admin/connectors/carrier-b", json={"options": {"receipts_for": "some"}}
    )
    assert bad_patch.status_code == 422 and bad_patch.json()["code"] == "connector.invalid"
    # Refused changes left the running connector as it was.
    current = (await admin.get("/v1/admin/connectors/carrier-b")).json()
    assert "receipts_for" not in current["options"] and current["state"] == "running"
    absent = await admin.patch("/v1/admin/connectors/nowhere", json={"rate": 1})
    assert absent.status_code == 404 and absent.json()["code"] == "connector.not_found"
    # Every code is in the OpenAPI description.
    schema = (await admin.get("/openapi.json")).json()
    described = str(schema["paths"]["/v1/admin/connectors/{name}"])
    for code in ("connector.config_managed", "connector.in_use", "connector.invalid"):
        assert code in described


async def test_a_connector_made_through_the_api_survives_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, carrier: Simulator
) -> None:
    settings = {"database_url": f"sqlite:///{tmp_path}/gw.db"}
    async with running(monkeypatch, node_id="r1", **settings) as gw, client(gw, ADMIN_KEY) as a:
        await create_b(a, carrier)
        await route_b(a, "carrier-b")
        assert (await a.post("/v1/admin/connectors/carrier-b/stop")).status_code == 200
    async with running(monkeypatch, node_id="r1", **settings) as gw, client(gw, ADMIN_KEY) as a:
        body = (await a.get("/v1/admin/connectors/carrier-b")).json()
        assert (body["source"], body["state"], body["secrets"]) == (
            "admin",
            "stopped",
            ["password"],
        )
        assert (await a.post("/v1/admin/connectors/carrier-b/start")).status_code == 200
        async with client(gw, DEMO_KEY) as demo:
            await all_delivered(demo, await send(demo))
        assert carrier.stats.submits == 1


async def test_messages_waiting_for_a_deleted_connector_take_the_route_they_have_now(
    node: Gateway, admin: httpx.AsyncClient, demo: httpx.AsyncClient, carrier: Simulator
) -> None:
    assert node.simulator is not None
    await create_b(admin, carrier)
    await route_b(admin, "carrier-b")
    assert (await admin.post("/v1/admin/connectors/carrier-b/stop")).status_code == 200
    waiting = await send(demo, 3)
    await asyncio.sleep(0.5)
    assert set(await statuses(demo, waiting)) <= {"accepted", "queued"}
    before = node.simulator.stats.submits

    assert (await admin.delete("/v1/admin/routes/to-b")).status_code == 204
    assert (await admin.delete("/v1/admin/connectors/carrier-b")).status_code == 204
    # No route names carrier-b any more: the default route carries them.
    await all_delivered(demo, waiting, seconds=15)
    assert carrier.stats.submits == 0
    assert node.simulator.stats.submits == before + 3


async def test_an_http_connector_made_here_sends_and_takes_its_receipt_callbacks(
    node: Gateway, admin: httpx.AsyncClient, demo: httpx.AsyncClient
) -> None:
    carrier = TestCarrier()
    await carrier.start()
    try:
        with EXAMPLE.open("rb") as f:
            table = tomllib.load(f)["connectors"]["acme_http"]
        options = connector_options(table)
        options["url"] = f"{carrier.url}/v1/sms"
        options["headers"] = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}
        options["callback"]["secret"] = CALLBACK_SECRET
        made = await admin.post(
            "/v1/admin/connectors",
            json={"name": "acme_http", "kind": "http", "options": options, "rate": 50},
        )
        assert made.status_code == 201, made.text
        assert sorted(made.json()["secrets"]) == ["callback.secret", "headers.Authorization"]
        assert TOKEN not in made.text and CALLBACK_SECRET not in made.text
        # Its callback route exists from now on, without a restart.
        carrier.callback_url = f"http://127.0.0.1:{node.http_port}/v1/callbacks/acme_http"
        await route_b(admin, "acme_http")
        ids = await send(demo)
        await all_delivered(demo, ids)
        assert len(carrier.requests) == 1 and carrier.callback_answers == [200]
    finally:
        await carrier.stop()


async def test_replacing_a_connector_whose_carrier_is_down_hands_its_waiting_parts_on(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    carrier: Simulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = {"database_url": f"sqlite:///{tmp_path}/gw.db", "connector_drain_timeout": 0.5}
    async with (
        running(monkeypatch, node_id="d1", **settings) as gw,
        client(gw, ADMIN_KEY) as admin,
        client(gw, DEMO_KEY) as demo,
    ):
        await create_b(admin, carrier)
        await route_b(admin, "carrier-b")
        await carrier.stop()  # carrier B goes down: the connector's workers wait for a bind

        async def unbound() -> bool:
            body = (await admin.get("/v1/admin/connectors/carrier-b")).json()
            return bool(body["binds_up"] == 0)

        await until(5, unbound)
        waiting = await send(demo, 2)
        await asyncio.sleep(0.3)
        assert set(await statuses(demo, waiting)) <= {"accepted", "queued"}

        # Its replacement points at a carrier that is up: the parts held by the old workers
        # come back unsent after the drain timeout and go through the new connector.
        replacement = Simulator(SimulatorConfig(port=0, password=PASSWORD, receipt_delay=0.01))
        await replacement.start()
        try:
            started = time.monotonic()
            changed = await admin.patch(
                "/v1/admin/connectors/carrier-b", json={"options": {"port": replacement.port}}
            )
            assert changed.status_code == 200, changed.text
            assert time.monotonic() - started < 5
            await all_delivered(demo, waiting)
            assert replacement.stats.submits == 2 and carrier.stats.submits == 0
            assert "2 dispatch workers still waiting" in caplog.text
        finally:
            await replacement.stop()
