"""Secrets never reach the log, and numbers and bodies are masked at INFO: a real gateway process
run at DEBUG with known secrets (API key, admin key, SMPP password, the carrier's password, a
webhook's signing secret and URL token), driven through REST, SMPP (good and bad binds), the admin
API and webhook deliveries; then its whole log output is searched for each of them."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx

from gateway.simulator import Simulator, SimulatorConfig
from gateway.smpp.codes import CommandStatus
from tests.e2e.harness import GatewayProcess
from tests.esme_client import TestEsme, submit
from tests.integration.webhook_receiver import WebhookReceiver

SMPP_PASSWORD = "Pw7q!x2Z"  # SMPP 3.4: at most 8 characters
WRONG_PASSWORD = "Pw7q!x2Y"  # a near miss is as secret as the password
UPSTREAM_PASSWORD = "Up9$kLm3"
ADMIN_KEY = "adm_" + "5e1c7a3b9d" * 4
WEBHOOK_TOKEN = "hooktoken" + "8f3a" * 6
DEST = "+4915187654321"
BODY = "the body is private 4711"


async def test_secrets_are_never_logged_and_numbers_are_masked_at_info(tmp_path: Path) -> None:
    upstream = Simulator(
        SimulatorConfig(port=0, system_id="gateway", password=UPSTREAM_PASSWORD, receipt_delay=0.01)
    )
    await upstream.start()
    hooks = WebhookReceiver()
    await hooks.start()
    gw = GatewayProcess(
        tmp_path,
        database_url=f"sqlite:///{tmp_path}/gateway.db",
        GATEWAY_UPSTREAM=f"smpp://gateway:{UPSTREAM_PASSWORD}@127.0.0.1:{upstream.port}",
        GATEWAY_DEMO_SMPP_PASSWORD=SMPP_PASSWORD,
        GATEWAY_ADMIN_KEY=ADMIN_KEY,
        GATEWAY_WEBHOOK_ALLOW_PRIVATE="true",
        GATEWAY_LOG_LEVEL="DEBUG",
    )
    gw.start()
    try:
        await asyncio.to_thread(gw.wait_ready, 60)
        secrets = await _drive(gw, hooks)
    finally:
        gw.terminate()
        await hooks.stop()
        await upstream.stop()
    log = gw.output()
    # The start banner prints the demo credentials on purpose (`make run`); nothing else may.
    lines = [line for line in log.splitlines() if not line.startswith("demo ")]
    for name, secret in {**secrets, "SMPP password": SMPP_PASSWORD}.items():
        leaks = [line for line in lines if secret in line]
        assert not leaks, f"{name} in the log: {leaks[:3]}"
    for name, secret in {
        "wrong SMPP password": WRONG_PASSWORD,
        "carrier password": UPSTREAM_PASSWORD,
        "admin key": ADMIN_KEY,
        "webhook URL token": WEBHOOK_TOKEN,
    }.items():
        assert secret not in log, f"{name} in the log"
    info = [
        line for line in lines if line.startswith("{") and json.loads(line).get("level") != "debug"
    ]
    assert len(info) >= 3  # the bad binds and the admin refusal were logged
    for text in (DEST, DEST[1:], BODY):
        leaks = [line for line in info if text in line]
        assert not leaks, f"{text!r} at INFO or above: {leaks[:3]}"


async def _drive(gw: GatewayProcess, hooks: WebhookReceiver) -> dict[str, str]:
    """Traffic on every door; returns the secrets the gateway handed out on the way."""
    auth = {"Authorization": f"Bearer {gw.key}"}
    async with httpx.AsyncClient(base_url=gw.url, headers=auth, timeout=10) as api:
        r = await api.put("/v1/webhooks", json={"url": f"{hooks.url}?token={WEBHOOK_TOKEN}"})
        assert r.status_code in (200, 201), r.text
        signing_secret = r.json()["secret"]
        r = await api.post("/v1/messages", json={"to": DEST, "from": "Acme", "text": BODY})
        assert r.status_code == 202, r.text
        r = await api.post("/v1/messages", json={"to": "+49151", "from": "Acme", "text": BODY})
        assert r.status_code == 422
        r = await api.get("/v1/messages", headers={"Authorization": "Bearer gw_wrong"})
        assert r.status_code == 401
        for key in ("adm_wrong", ADMIN_KEY):
            r = await api.get("/v1/admin/accounts", headers={"Authorization": f"Bearer {key}"})
            assert r.status_code in (200, 401)
        r = await api.post(
            "/v1/admin/accounts/demo/keys", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
        )
        new_key = r.json()["key"] if r.status_code == 201 else ""
    esme = await TestEsme.connect(int(gw.env["GATEWAY_SMPP_PORT"]))
    assert await esme.bind("trx", password=WRONG_PASSWORD) == CommandStatus.ESME_RINVPASWD
    await esme.close()
    esme = await TestEsme.connect(int(gw.env["GATEWAY_SMPP_PORT"]))
    assert await esme.bind("trx", password=SMPP_PASSWORD) == CommandStatus.ESME_ROK
    response = await esme.request(
        submit(BODY.encode(), destination_addr=DEST.lstrip("+"), receipt=1)
    )
    assert response.command_status == 0
    await esme.read(timeout=5)  # the receipt
    await esme.close()
    deadline = time.monotonic() + 15
    while len(hooks.acknowledged) < 4 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert len(hooks.acknowledged) >= 4  # submitted and delivered, REST and SMPP
    secrets = {"API key": gw.key, "webhook signing secret": signing_secret}
    if new_key:
        secrets["new API key"] = new_key
    return secrets
