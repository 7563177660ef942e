"""The admin API: accounts, API keys, SMPP credentials, numbers, routes and connectors, on both
stores, through HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gateway.app import Gateway
from gateway.smpp.codes import CommandStatus
from gateway.smpp.pdu import EnquireLink, Unbind, UnbindResp
from tests.conftest import DEMO_SMPP_PASSWORD
from tests.esme_client import TestEsme
from tests.integration.admin_nodes import (
    ADMIN_KEY,
    client,
    new_account,
    running,
    sms,
    store_settings,
)


@pytest.fixture(params=["sqlite", "postgres"])
async def node(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Gateway]:
    async with running(monkeypatch, node_id="admin1", **store_settings(request, tmp_path)) as gw:
        yield gw


@pytest.fixture
async def admin(node: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with client(node, ADMIN_KEY) as c:
        yield c


async def test_admin_api_needs_the_admin_key(node: Gateway) -> None:
    async with client(node, "not-the-admin-key") as wrong:
        response = await wrong.get("/v1/admin/accounts")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "auth.admin_unauthorized"


async def test_account_create_list_get_update(admin: httpx.AsyncClient) -> None:
    created = await admin.post(
        "/v1/admin/accounts",
        json={"name": "acme", "rate_limit": 50, "daily_quota": 1000, "allowed_senders": ["Acme"]},
    )
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "acme" and body["status"] == "active"
    assert body["rate_limit"] == 50 and body["daily_quota"] == 1000
    assert body["spend_cap"] is None and body["allowed_senders"] == ["Acme"]

    again = await admin.post("/v1/admin/accounts", json={"name": "acme"})
    assert again.status_code == 409 and again.json()["code"] == "account.exists"

    names = [a["name"] for a in (await admin.get("/v1/admin/accounts")).json()["data"]]
    assert names == ["acme", "demo"]

    by_id = (await admin.get(f"/v1/admin/accounts/{body['id']}")).json()
    assert by_id["name"] == "acme"
    assert by_id["usage"] == {"segments_today": 0, "spend_this_month": 0.0}

    patched = await admin.patch(
        "/v1/admin/accounts/acme",
        json={"daily_quota": None, "spend_cap": 12.5, "status": "suspended", "price": 0.04},
    )
    assert patched.status_code == 200
    p = patched.json()
    assert p["daily_quota"] is None and p["spend_cap"] == 12.5 and p["price"] == 0.04
    assert p["status"] == "suspended" and p["rate_limit"] == 50  # untouched

    missing = await admin.get("/v1/admin/accounts/nobody")
    assert missing.status_code == 404 and missing.json()["code"] == "account.not_found"
    invalid = await admin.post("/v1/admin/accounts", json={"name": "a b", "rate_limit": -1})
    assert invalid.status_code == 422 and invalid.json()["code"] == "request.validation_failed"


async def test_keys_are_created_listed_and_revoked(node: Gateway, admin: httpx.AsyncClient) -> None:
    key = await new_account(admin, "acme")
    second = (await admin.post("/v1/admin/accounts/acme/keys")).json()
    assert second["key"].startswith(second["prefix"])

    async with client(node, key) as acme:
        assert (await acme.post("/v1/messages", json=sms())).status_code == 202
        listed = (await admin.get("/v1/admin/accounts/acme/keys")).json()["data"]
        assert sorted(k["prefix"] for k in listed) == sorted([key[:9], second["prefix"]])
        assert all(k["active"] and "key" not in k for k in listed)

        revoked = await admin.delete(f"/v1/admin/accounts/acme/keys/{key[:9]}")
        assert revoked.status_code == 204
        refused = await acme.post("/v1/messages", json=sms())
        assert refused.status_code == 401 and refused.json()["code"] == "auth.unauthorized"

    async with client(node, second["key"]) as other_key:  # the account's other key still works
        assert (await other_key.post("/v1/messages", json=sms())).status_code == 202
    states = {
        k["prefix"]: k["active"]
        for k in (await admin.get("/v1/admin/accounts/acme/keys")).json()["data"]
    }
    assert states == {key[:9]: False, second["prefix"]: True}
    again = await admin.delete(f"/v1/admin/accounts/acme/keys/{key[:9]}")
    assert again.status_code == 404 and again.json()["code"] == "key.not_found"


async def test_suspended_account_is_refused_until_reactivated(
    node: Gateway, admin: httpx.AsyncClient
) -> None:
    key = await new_account(admin, "acme")
    async with client(node, key) as acme:
        assert (await acme.post("/v1/messages", json=sms())).status_code == 202
        await admin.patch("/v1/admin/accounts/acme", json={"status": "suspended"})
        assert (await acme.post("/v1/messages", json=sms())).status_code == 401
        await admin.patch("/v1/admin/accounts/acme", json={"status": "active"})
        assert (await acme.post("/v1/messages", json=sms())).status_code == 202


async def test_smpp_credentials_create_update_delete(
    node: Gateway, admin: httpx.AsyncClient
) -> None:
    await new_account(admin, "acme")
    await new_account(admin, "other")
    path = "/v1/admin/accounts/acme/smpp/acme1"
    no_password = await admin.put(path, json={"max_binds": 2})
    assert no_password.status_code == 422
    created = await admin.put(path, json={"password": "s3cret", "max_binds": 2, "throughput": 5})
    assert created.status_code == 201
    assert created.json() == {
        "system_id": "acme1",
        "allowed_networks": [],
        "max_binds": 2,
        "throughput": 5.0,
    }
    updated = await admin.put(path, json={"throughput": 50, "allowed_networks": ["127.0.0.0/8"]})
    assert updated.status_code == 200 and updated.json()["throughput"] == 50.0

    esme = await TestEsme.connect(node.smpp_port)
    assert await esme.bind("trx", system_id="acme1", password="s3cret") == 0  # password kept
    await esme.close()

    taken = await admin.put("/v1/admin/accounts/other/smpp/acme1", json={"password": "x"})
    assert taken.status_code == 409 and taken.json()["code"] == "smpp.system_id_taken"
    bad_cidr = await admin.put(path, json={"allowed_networks": ["not-a-net"]})
    assert bad_cidr.status_code == 422
    listed = (await admin.get("/v1/admin/accounts/acme/smpp")).json()["data"]
    assert [c["system_id"] for c in listed] == ["acme1"]

    assert (await admin.delete(path)).status_code == 204
    esme = await TestEsme.connect(node.smpp_port)
    assert await esme.bind("trx", system_id="acme1", password="s3cret") != CommandStatus.ESME_ROK
    await esme.close()
    gone = await admin.delete(path)
    assert gone.status_code == 404 and gone.json()["code"] == "smpp.credential_not_found"


async def _unbound_by_server(esme: TestEsme) -> bool:
    """True once the server sent unbind or closed the connection (answering its unbind)."""
    try:
        unbind = await esme.wait_for(lambda p: isinstance(p, Unbind), timeout=5)
    except AssertionError:  # closed while waiting
        return esme.closed
    esme.send(UnbindResp(sequence_number=unbind.sequence_number))
    return True


async def test_open_binds_are_closed_when_suspended_or_their_password_changes(
    node: Gateway, admin: httpx.AsyncClient
) -> None:
    await new_account(admin, "acme")
    path = "/v1/admin/accounts/acme/smpp/acme1"
    assert (await admin.put(path, json={"password": "s3cret"})).status_code == 201
    kept = await TestEsme.connect(node.smpp_port)
    assert await kept.bind("trx", system_id="demo", password=DEMO_SMPP_PASSWORD) == 0

    esme = await TestEsme.connect(node.smpp_port)
    assert await esme.bind("trx", system_id="acme1", password="s3cret") == 0
    await admin.put(path, json={"throughput": 7})  # new limits only: the bind stays
    assert (await esme.request(EnquireLink())).command_status == CommandStatus.ESME_ROK
    await admin.patch("/v1/admin/accounts/acme", json={"status": "suspended"})
    assert await _unbound_by_server(esme)
    await esme.close()

    await admin.patch("/v1/admin/accounts/acme", json={"status": "active"})
    esme = await TestEsme.connect(node.smpp_port)
    assert await esme.bind("trx", system_id="acme1", password="s3cret") == 0
    await admin.put(path, json={"password": "n3w"})
    assert await _unbound_by_server(esme)
    await esme.close()
    # Another account's bind was left alone throughout.
    assert (await kept.request(EnquireLink())).command_status == CommandStatus.ESME_ROK
    await kept.close()


async def test_numbers_are_assigned_listed_and_removed(admin: httpx.AsyncClient) -> None:
    await new_account(admin, "acme")
    await new_account(admin, "other")
    put = await admin.put("/v1/admin/accounts/acme/numbers/+49 30 123456789")
    assert put.status_code == 200 and put.json()["number"] == "+4930123456789"
    assert (await admin.put("/v1/admin/accounts/acme/numbers/12345")).status_code == 200
    numbers = (await admin.get("/v1/admin/accounts/acme/numbers")).json()["data"]
    assert [n["number"] for n in numbers] == ["+4930123456789", "12345"]

    taken = await admin.put("/v1/admin/accounts/other/numbers/+4930123456789")
    assert taken.status_code == 409 and taken.json()["code"] == "number.taken"
    bad = await admin.put("/v1/admin/accounts/acme/numbers/hello")
    assert bad.status_code == 422 and bad.json()["code"] == "message.invalid_number"

    assert (await admin.delete("/v1/admin/accounts/acme/numbers/12345")).status_code == 204
    again = await admin.delete("/v1/admin/accounts/acme/numbers/12345")
    assert again.status_code == 404 and again.json()["code"] == "number.not_found"
    # Free again: another account may take it.
    assert (await admin.put("/v1/admin/accounts/other/numbers/12345")).status_code == 200


async def test_stored_route_sets_price_and_can_be_removed(
    node: Gateway, admin: httpx.AsyncClient
) -> None:
    key = await new_account(admin, "acme")
    connector = node.settings.default_connector
    put = await admin.put(
        "/v1/admin/routes/germany",
        json={"connectors": [connector], "prefixes": ["+49"], "price": 0.07, "accounts": ["acme"]},
    )
    assert put.status_code == 200
    assert put.json()["source"] == "admin" and put.json()["price"] == 0.07
    routes = (await admin.get("/v1/admin/routes")).json()["data"]
    assert [(r["name"], r["source"]) for r in routes] == [("germany", "admin")]

    async with client(node, key) as acme:
        long = sms(text="x" * 200)
        assert (await acme.post("/v1/messages/preview", json=long)).json()["price"] == 0.14
        sent = (await acme.post("/v1/messages", json=sms())).json()
        assert sent["price"] == 0.07
        message = (await acme.get(f"/v1/messages/{sent['id']}")).json()
        assert message["price"] == 0.07
        france = (await acme.post("/v1/messages", json=sms(to="+33612345678"))).json()
        assert (await acme.get(f"/v1/messages/{france['id']}")).json()["price"] == 0.0

        assert (await admin.delete("/v1/admin/routes/germany")).status_code == 204
        after = (await acme.post("/v1/messages", json=sms())).json()
        assert (await acme.get(f"/v1/messages/{after['id']}")).json()["price"] == 0.0

    unknown = await admin.put("/v1/admin/routes/x", json={"connectors": ["nowhere"]})
    assert unknown.status_code == 422 and unknown.json()["code"] == "route.invalid"
    bad_country = await admin.put(
        "/v1/admin/routes/x", json={"connectors": [connector], "countries": ["XX"]}
    )
    assert bad_country.status_code == 422 and "XX" in bad_country.json()["detail"]
    gone = await admin.delete("/v1/admin/routes/germany")
    assert gone.status_code == 404 and gone.json()["code"] == "route.not_found"


async def test_configured_connectors_are_listed_and_managed_by_the_file(
    node: Gateway, admin: httpx.AsyncClient
) -> None:
    body = (await admin.get("/v1/admin/connectors")).json()
    [upstream] = body["data"]
    assert upstream["name"] == node.settings.default_connector and upstream["default"]
    assert (upstream["source"], upstream["state"], upstream["enabled"]) == (
        "config",
        "running",
        True,
    )
    assert upstream["binds"] and upstream["binds"][0]["state"] in ("bound", "connecting")
    # The simulator's password is a secret: named, never shown.
    assert upstream["secrets"] == ["password"] and "password" not in upstream["options"]
    name = upstream["name"]
    changed = await admin.patch(f"/v1/admin/connectors/{name}", json={"rate": 5})
    assert changed.status_code == 409 and changed.json()["code"] == "connector.config_managed"
    deleted = await admin.delete(f"/v1/admin/connectors/{name}")
    assert deleted.status_code == 409 and deleted.json()["code"] == "connector.config_managed"
