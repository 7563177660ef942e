"""Opt-out through the real front doors: the suppression API (account and admin keys), the
REST and SMPP refusal of promotional traffic to suppressed numbers, keywords arriving as MOs
from the simulator, and quiet hours held in the recipient's zone. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from gateway.app import Gateway
from gateway.config import load_settings
from gateway.domain import new_id
from gateway.domain.errors import RecipientOptedOut
from gateway.domain.listing import MessageFilter
from gateway.keys import KeyAuthenticator
from gateway.smpp.codes import CommandStatus
from gateway.smpp_server.mapping import status_for_error
from gateway.text import decode_short_message
from tests.conftest import DEMO_KEY, DEMO_SMPP_PASSWORD
from tests.esme_client import TestEsme, submit

ADMIN_KEY = "admin_" + "k" * 40
OUR_NUMBER = "+4930123456789"
HANDSET = "+4915112345678"
NEW_YORK = "+12125551234"
RIYADH = "+966501234567"

Start = Callable[..., Awaitable[Gateway]]


@pytest.fixture(params=["sqlite", "postgres"])
async def start_gateway(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Start]:
    """Starts a whole gateway on either store, with an admin key and an optional clock."""
    for name in list(os.environ):
        if name.startswith("GATEWAY_"):
            monkeypatch.delenv(name)
    if request.param == "sqlite":
        database: dict[str, object] = {"database_url": f"sqlite:///{tmp_path}/gw.db"}
    else:
        database = {
            "database_url": request.getfixturevalue("postgres_dsn"),
            "database_schema": request.getfixturevalue("pg_schema"),
        }
    started: list[Gateway] = []

    async def start(clock: Callable[[], float] = time.time) -> Gateway:
        settings = load_settings(
            **database,
            http_port=0,
            simulator_port=0,
            smpp_port=0,
            demo_key=DEMO_KEY,
            demo_smpp_password=DEMO_SMPP_PASSWORD,
            admin_key=ADMIN_KEY,
            node_id="itest",
            simulator_receipt_delay=0.01,
        )
        gateway = Gateway(settings, clock=clock)
        started.append(gateway)
        await gateway.start()
        return gateway

    yield start
    for gateway in started:
        await gateway.stop()


def _client(gateway: Gateway, key: str = DEMO_KEY) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{gateway.http_port}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )


async def _demo_account(gateway: Gateway) -> str:
    assert gateway.store is not None
    account = await gateway.store.get_account_by_name("demo")
    assert account is not None
    return account.id


async def _send(api: httpx.AsyncClient, to: str, kind: str = "promotional") -> httpx.Response:
    # The US takes no alphanumeric senders and Saudi Arabia only registered ones
    # (gateway.sender_rules): a number there.
    sender = "Acme" if to.startswith("+49") else "+14155550100"
    return await api.post(
        "/v1/messages", json={"to": to, "from": sender, "text": f"{kind} news", "type": kind}
    )


def _problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code


async def test_suppression_api_adds_lists_checks_and_removes(start_gateway: Start) -> None:
    gateway = await start_gateway()
    async with _client(gateway) as api:
        numbers = ["0049 151 1234 5670", "+4915112345671", "+4915112345672", "+4915112345673"]
        added = await api.post("/v1/suppressions", json={"numbers": numbers, "reason": "asked"})
        assert added.status_code == 201, added.text
        assert added.json()["added"][0] == "+4915112345670"  # stored as E.164

        check = (await api.get("/v1/suppressions/+4915112345670")).json()
        assert check["suppressed"] and check["suppression"]["reason"] == "asked"
        assert check["suppression"]["source"] == "api"
        clear = (await api.get(f"/v1/suppressions/{HANDSET}")).json()
        assert clear == {"number": HANDSET, "suppressed": False, "suppression": None}

        seen: list[str] = []
        params: dict[str, str | int] = {"limit": 3}
        while True:
            page = (await api.get("/v1/suppressions", params=params)).json()
            seen += [s["number"] for s in page["data"]]
            if page["next_cursor"] is None:
                break
            params["cursor"] = page["next_cursor"]
        assert seen == [f"+491511234567{i}" for i in range(4)]

        assert (await api.delete("/v1/suppressions/+4915112345671")).status_code == 204
        _problem(await api.delete("/v1/suppressions/+4915112345671"), 404, "suppression.not_found")
        _problem(await api.get("/v1/suppressions/12345"), 422, "message.invalid_number")
        _problem(
            await api.post("/v1/suppressions", json={"numbers": ["+49"]}),
            422,
            "message.invalid_number",
        )
        _problem(
            await api.get("/v1/suppressions", params={"cursor": "!!"}),
            422,
            "request.validation_failed",
        )


async def test_promotional_to_a_suppressed_number_is_refused_other_types_are_not(
    start_gateway: Start,
) -> None:
    gateway = await start_gateway()
    async with _client(gateway) as api:
        assert (await _send(api, HANDSET)).status_code == 202
        await api.post("/v1/suppressions", json={"numbers": [HANDSET]})
        refused = await _send(api, HANDSET)
        _problem(refused, 422, "recipient.opted_out")
        assert HANDSET not in refused.json()["detail"]  # masked, like logs
        assert (await _send(api, HANDSET, "transactional")).status_code == 202
        assert (await _send(api, HANDSET, "otp")).status_code == 202
        assert (await _send(api, "+4915112345679")).status_code == 202

        # The account extends enforcement to transactional traffic; OTP it leaves out.
        settings = (await api.get("/v1/opt-out/settings")).json()
        assert settings["enforce"] == ["promotional"]
        assert settings["quiet_hours"] == {
            "enabled": False,
            "start": "21:00",
            "end": "08:00",
            "types": ["promotional"],
        }
        settings["enforce"] = ["promotional", "transactional"]
        assert (await api.put("/v1/opt-out/settings", json=settings)).status_code == 200
        _problem(await _send(api, HANDSET, "transactional"), 422, "recipient.opted_out")
        assert (await _send(api, HANDSET, "otp")).status_code == 202

        assert (await api.delete(f"/v1/suppressions/{HANDSET}")).status_code == 204
        assert (await _send(api, HANDSET)).status_code == 202


async def test_admin_manages_an_accounts_list(start_gateway: Start) -> None:
    gateway = await start_gateway()
    account_id = await _demo_account(gateway)
    base = f"/v1/admin/accounts/{account_id}"
    async with _client(gateway, ADMIN_KEY) as admin, _client(gateway) as api:
        _problem(await api.get(f"{base}/suppressions"), 401, "auth.admin_unauthorized")
        _problem(await admin.get("/v1/admin/accounts/nope/suppressions"), 404, "account.not_found")
        added = await admin.post(f"{base}/suppressions", json={"numbers": [HANDSET]})
        assert added.status_code == 201
        listed = (await admin.get(f"{base}/suppressions")).json()
        assert [(s["number"], s["source"]) for s in listed["data"]] == [(HANDSET, "admin")]
        assert (await admin.get(f"{base}/suppressions/{HANDSET}")).json()["suppressed"]
        # By name as well as by id, as everywhere under /v1/admin.
        by_name = f"/v1/admin/accounts/demo/suppressions/{HANDSET}"
        assert (await admin.get(by_name)).json()["suppressed"]
        _problem(await _send(api, HANDSET), 422, "recipient.opted_out")

        settings = (await admin.get(f"{base}/opt-out/settings")).json()
        settings["quiet_hours"]["enabled"] = False
        assert (await admin.put(f"{base}/opt-out/settings", json=settings)).status_code == 200
        assert not (await api.get("/v1/opt-out/settings")).json()["quiet_hours"]["enabled"]
        bad = dict(settings, quiet_hours=dict(settings["quiet_hours"], start="25:00"))
        _problem(
            await admin.put(f"{base}/opt-out/settings", json=bad), 422, "request.validation_failed"
        )

        assert (await admin.delete(f"{base}/suppressions/{HANDSET}")).status_code == 204
        assert (await _send(api, HANDSET)).status_code == 202


async def test_smpp_promotional_submit_to_a_suppressed_number_gets_esme_rx_r_appn(
    start_gateway: Start,
) -> None:
    gateway = await start_gateway()
    async with _client(gateway) as api:
        await api.post("/v1/suppressions", json={"numbers": [HANDSET]})
    esme = await TestEsme.connect(gateway.smpp_port)
    assert await esme.bind("trx", password=DEMO_SMPP_PASSWORD) == 0
    refused = await esme.request(
        submit(b"sale", service_type="PROMO", destination_addr=HANDSET[1:])
    )
    assert refused.command_status == CommandStatus.ESME_RX_R_APPN
    # Without the promotional service_type it is transactional: not blocked by default.
    sent = await esme.request(submit(b"receipt", destination_addr=HANDSET[1:]))
    assert sent.command_status == 0
    assert status_for_error(RecipientOptedOut("x")) == CommandStatus.ESME_RX_R_APPN
    await esme.close()


async def _wait_for(check: Callable[[], Awaitable[bool]], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


def _replies_to(gateway: Gateway, handset: str) -> list[str]:
    """Texts the gateway sent to `handset` from our number, as the carrier received them."""
    assert gateway.simulator is not None
    return [
        decode_short_message(
            p.short_message, data_coding=p.data_coding, udhi=bool(p.esm_class & 0x40), packed=False
        ).text()
        or ""
        for p in gateway.simulator.stats.recent_submits
        if p.destination_addr.lstrip("+") == handset[1:]
        and p.source_addr.lstrip("+") == OUR_NUMBER[1:]
    ]


async def test_arabic_stop_suppresses_start_reallows_help_answers(start_gateway: Start) -> None:
    gateway = await start_gateway()
    assert gateway.store is not None and gateway.simulator is not None
    account_id = await _demo_account(gateway)
    await gateway.store.add_number(number=OUR_NUMBER, account_id=account_id, now=time.time())
    async with _client(gateway) as api:
        assert (await _send(api, HANDSET)).status_code == 202

        async def suppressed() -> bool:
            return bool((await api.get(f"/v1/suppressions/{HANDSET}")).json()["suppressed"])

        gateway.simulator.send_mo(source=HANDSET, destination=OUR_NUMBER, text="  إلغاء ")
        await _wait_for(suppressed)
        _problem(await _send(api, HANDSET), 422, "recipient.opted_out")
        entry = (await api.get(f"/v1/suppressions/{HANDSET}")).json()["suppression"]
        assert entry["source"] == "keyword"

        async def replied(count: int) -> bool:
            return len(_replies_to(gateway, HANDSET)) >= count

        # The confirmation goes out from the number that received the STOP, in Arabic.
        await _wait_for(lambda: replied(1))
        assert _replies_to(gateway, HANDSET)[0].startswith("تم إلغاء اشتراكك")

        gateway.simulator.send_mo(source=HANDSET, destination=OUR_NUMBER, text="START")
        await _wait_for(lambda: replied(2))
        assert not await suppressed()
        assert _replies_to(gateway, HANDSET)[1].startswith("You have been resubscribed")
        assert (await _send(api, HANDSET)).status_code == 202

        # HELP answers with the account's own text once it has set one.
        settings = (await api.get("/v1/opt-out/settings")).json()
        settings["help_reply"] = "Acme alerts. Call 0800 123 for help."
        assert (await api.put("/v1/opt-out/settings", json=settings)).status_code == 200
        gateway.simulator.send_mo(source=HANDSET, destination=OUR_NUMBER, text="Help!")
        await _wait_for(lambda: replied(3))
        assert _replies_to(gateway, HANDSET)[2] == "Acme alerts. Call 0800 123 for help."
        assert not await suppressed()

    # The keywords still reach the account as ordinary MOs.
    texts = {r.text for r in await gateway.store.list_inbound(account_id=account_id, limit=10)}
    assert texts == {"  إلغاء ", "START", "Help!"}


async def test_a_stop_reply_goes_from_an_account_over_its_quota_at_the_accounts_price(
    start_gateway: Start,
) -> None:
    """The confirmation of a STOP is exempt from the account's refusals (here: its daily quota
    is used up), but it is billed like the account's other messages: at its own price, not the
    route's."""
    gateway = await start_gateway()
    assert gateway.store is not None and gateway.refresher is not None
    account_id = await _demo_account(gateway)
    await gateway.store.add_number(number=OUR_NUMBER, account_id=account_id, now=time.time())
    settings = await gateway.store.get_account_settings(account_id)
    assert settings is not None
    await gateway.store.update_account(replace(settings, price=0.07, daily_quota=1))
    await gateway.refresher.refresh()
    async with _client(gateway) as api:
        assert (await _send(api, HANDSET)).status_code == 202
        _problem(await _send(api, HANDSET), 429, "account.quota_exceeded")

        async def replied() -> bool:
            return bool(_replies_to(gateway, HANDSET))

        assert gateway.simulator is not None
        gateway.simulator.send_mo(source=HANDSET, destination=OUR_NUMBER, text="STOP")
        await _wait_for(replied)
    sent = await gateway.store.list_messages(
        account_id=account_id, where=MessageFilter(destination=HANDSET), after=None, limit=10
    )
    assert len(sent) == 2 and {m.price for m in sent} == {0.07}

    # An account created since this node last loaded the settings: read from the store.
    fresh = await gateway.store.create_account(account_id=new_id(), name="fresh", now=time.time())
    stored = await gateway.store.get_account_settings(fresh.id)
    assert stored is not None
    await gateway.store.update_account(replace(stored, price=0.05, spend_cap=0.1))
    their_number, handset = "+4930123456700", "+4915112340000"
    await gateway.store.add_number(number=their_number, account_id=fresh.id, now=time.time())
    gateway.simulator.send_mo(source=handset, destination=their_number, text="HELP")

    async def answered() -> bool:
        assert gateway.store is not None
        return bool(
            await gateway.store.list_messages(
                account_id=fresh.id, where=MessageFilter(), after=None, limit=1
            )
        )

    await _wait_for(answered)
    reply = await gateway.store.list_messages(
        account_id=fresh.id, where=MessageFilter(), after=None, limit=1
    )
    assert reply[0].price == 0.05
    # The reply counts against the account's spend at once, on this node too: of a cap of two
    # messages, one is left, without waiting for the next usage refresh.
    key = await KeyAuthenticator(store=gateway.store).create_key(account_id=fresh.id)
    async with _client(gateway, key) as api:
        assert (await _send(api, HANDSET)).status_code == 202
        _problem(await _send(api, HANDSET), 402, "account.spend_cap_reached")


async def test_quiet_hours_hold_promotional_until_the_recipients_morning(
    start_gateway: Start,
) -> None:
    # The gateway's clock says 07:59:57 in New York (12:59:57 UTC, 15:59:57 in Riyadh), and
    # runs on in step with the real one, so the window opens three seconds into the test.
    opens = datetime(2026, 12, 8, 8, 0, tzinfo=ZoneInfo("America/New_York")).timestamp()
    offset = opens - 3.0 - time.time()
    gateway = await start_gateway(clock=lambda: time.time() + offset)
    async with _client(gateway) as api:
        settings = (await api.get("/v1/opt-out/settings")).json()
        settings["quiet_hours"]["enabled"] = True  # off by default
        assert (await api.put("/v1/opt-out/settings", json=settings)).status_code == 200
        held = await _send(api, NEW_YORK)
        assert held.status_code == 202 and held.json()["status"] == "scheduled"
        message_id = held.json()["id"]
        view = (await api.get(f"/v1/messages/{message_id}")).json()
        assert view["send_at"] == opens

        # Daytime in Riyadh: not held. OTP and transactional are never held by default.
        assert (await _send(api, RIYADH)).json()["status"] == "accepted"
        assert (await _send(api, NEW_YORK, "otp")).json()["status"] == "accepted"
        assert (await _send(api, NEW_YORK, "transactional")).json()["status"] == "accepted"

        # Over SMPP, a submit with service_type PROMO is held the same way.
        esme = await TestEsme.connect(gateway.smpp_port)
        assert await esme.bind("trx", password=DEMO_SMPP_PASSWORD) == 0
        resp = await esme.request(
            submit(
                b"sale",
                service_type="PROMO",
                destination_addr=NEW_YORK,
                source_addr="14155550100",
                source_addr_ton=1,
            )
        )
        assert resp.command_status == 0
        smpp_view = (await api.get(f"/v1/messages/{resp.message_id}")).json()
        assert smpp_view["status"] == "scheduled" and smpp_view["send_at"] == opens
        await esme.close()

        async def sent() -> bool:
            status = (await api.get(f"/v1/messages/{message_id}")).json()["status"]
            return status in ("submitted", "delivered")

        assert not await sent()
        await _wait_for(sent, timeout=15)
        assert gateway.clock() >= opens


async def test_a_batch_refuses_only_its_suppressed_recipients(start_gateway: Start) -> None:
    gateway = await start_gateway()
    async with _client(gateway) as api:
        added = await api.post("/v1/suppressions", json={"numbers": [HANDSET]})
        assert added.status_code == 201, added.text
        body = {
            "from": "Acme",
            "text": "Sale for {{name}}",
            "type": "promotional",
            "recipients": [
                {"to": HANDSET, "vars": {"name": "Ann"}},
                {"to": "+4915112345679", "vars": {"name": "Bob"}},
            ],
        }
        response = await api.post("/v1/messages/batch", json=body)
        assert response.status_code == 202, response.text
        refused, accepted = response.json()["results"]
        assert refused["error"]["code"] == "recipient.opted_out"
        assert "id" in accepted
        # The same batch as transactional reaches both: only promotional is enforced.
        response = await api.post("/v1/messages/batch", json={**body, "type": "transactional"})
        assert all("id" in r for r in response.json()["results"]), response.text
