"""Two gateway nodes sharing PostgreSQL and Redis: node A is SIGKILLed mid-load and node B
finishes its work.

What it proves (ARCHITECTURE.md invariants 1 and 6, issue "several nodes"):
- every message node A acknowledged (REST 202 or submit_sm_resp OK) is delivered, by node B
  once A's heartbeat went stale and its leased parts were handed back;
- the carrier sees each message once, except parts that were on the wire when A died (their
  answer could not be committed): those are counted and bounded by A's window;
- the receipts an ESME asked for on node A reach that ESME's receiver bound on node B;
- /metrics on node B shows the traffic it carried.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path

import httpx

from gateway.simulator import SimulatorConfig
from gateway.smpp.pdu import DeliverSm, SubmitSmResp
from gateway.smpp.tlv import Tlv
from tests.e2e.crash_harness import RecordingSmsc
from tests.e2e.harness import GatewayProcess
from tests.esme_client import TestEsme, submit

DEST = "+4915112345678"
SMPP_PASSWORD = "node123"
WINDOW = 20  # node A's upstream window: the most parts that can be on the wire at the kill
REST_COUNT = 240
SMPP_COUNT = 160
REST_WORKERS = 4


def _metric(url: str, name: str) -> float:
    total = 0.0
    for line in httpx.get(url + "/metrics", timeout=5).text.splitlines():
        if line.startswith((name + "{", name + " ")):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def _rest_load(node: GatewayProcess, acked: dict[str, str], stop: asyncio.Event) -> None:
    """Post tagged messages to node A, four at a time, until all are sent or A is gone."""
    numbers = iter(range(REST_COUNT))

    async def worker(api: httpx.AsyncClient) -> None:
        for n in numbers:
            if stop.is_set():
                return
            tag = f"R{n:06d}.1.0"
            try:
                response = await api.post(
                    "/v1/messages", json={"to": DEST, "from": "Acme", "text": f"<{tag}> hi"}
                )
            except httpx.HTTPError:
                return  # node A died: what it did not answer was never acknowledged
            assert response.status_code == 202, response.text
            acked[response.json()["id"]] = tag

    async with httpx.AsyncClient(
        base_url=node.url, headers={"Authorization": f"Bearer {node.key}"}, timeout=5
    ) as api:
        await asyncio.gather(*(worker(api) for _ in range(REST_WORKERS)))


async def _smpp_load(port: int, acked: dict[str, str], stop: asyncio.Event) -> None:
    esme = await TestEsme.connect(port)
    assert await esme.bind("tx", password=SMPP_PASSWORD) == 0
    try:
        for n in range(SMPP_COUNT):
            if stop.is_set():
                return
            tag = f"S{n:06d}.1.0"
            try:
                response = await esme.request(submit(f"<{tag}> hi".encode()), timeout=5)
            except (AssertionError, TimeoutError, OSError):
                return
            assert isinstance(response, SubmitSmResp)
            assert response.command_status == 0
            acked[response.message_id] = tag
    finally:
        await esme.close()


async def _collect_receipts(esme: TestEsme, receipts: set[str], done: asyncio.Event) -> None:
    while not done.is_set():
        try:
            pdu = await esme.read(timeout=0.5)
        except TimeoutError:
            continue
        if pdu is None:
            return
        if isinstance(pdu, DeliverSm):
            receipted = pdu.tlvs.get(Tlv.RECEIPTED_MESSAGE_ID)
            if receipted:
                receipts.add(str(receipted))


async def test_node_b_finishes_what_killed_node_a_acknowledged(
    tmp_path: Path, postgres_dsn: str, pg_schema: str, redis_url: str
) -> None:
    carrier = RecordingSmsc(SimulatorConfig(port=0, password="secret", receipt_delay=0.05))
    await carrier.start()
    env = {
        "GATEWAY_DATABASE_SCHEMA": pg_schema,
        "GATEWAY_REDIS_URL": redis_url,
        "GATEWAY_REDIS_PREFIX": f"test:{os.urandom(6).hex()}:",
        # A carrier slower than intake, so node A dies with a backlog it had acknowledged.
        "GATEWAY_UPSTREAM": f"smpp://gateway:secret@127.0.0.1:{carrier.port}"
        f"?window={WINDOW}&tps=50",
        "GATEWAY_DEMO_SMPP_PASSWORD": SMPP_PASSWORD,
        "GATEWAY_NODE_HEARTBEAT_INTERVAL": "0.5",
        "GATEWAY_NODE_HEARTBEAT_TTL": "2.0",
    }
    node_a = GatewayProcess(tmp_path, database_url=postgres_dsn, **env)
    node_a.start()
    nodes = [node_a]
    receiver: TestEsme | None = None
    try:
        await asyncio.to_thread(node_a.wait_ready)  # migrates before B starts
        node_b = GatewayProcess(
            tmp_path, database_url=postgres_dsn, **{**env, "GATEWAY_DEMO_KEY": node_a.key}
        )
        node_b.start()
        nodes.append(node_b)
        await asyncio.to_thread(node_b.wait_ready)
        accepted_before = _metric(node_b.url, "gateway_parts_submitted_total")

        receiver = await TestEsme.connect(int(node_b.env["GATEWAY_SMPP_PORT"]))
        assert await receiver.bind("rx", password=SMPP_PASSWORD) == 0
        receipts: set[str] = set()
        done = asyncio.Event()
        collector = asyncio.create_task(_collect_receipts(receiver, receipts, done))

        rest_acked: dict[str, str] = {}
        smpp_acked: dict[str, str] = {}
        stop = asyncio.Event()
        load = asyncio.gather(
            _rest_load(node_a, rest_acked, stop),
            _smpp_load(int(node_a.env["GATEWAY_SMPP_PORT"]), smpp_acked, stop),
        )
        # Kill A mid-load: after it acknowledged a good share, while it still holds a backlog.
        deadline = time.monotonic() + 30
        while (len(rest_acked) < 80 or len(smpp_acked) < 40) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await asyncio.to_thread(node_a.kill)
        stop.set()
        await load
        acked = {**rest_acked, **smpp_acked}
        assert len(rest_acked) >= 80 and len(smpp_acked) >= 40, (len(rest_acked), len(smpp_acked))
        sent_by_a = sum(carrier.submits_by_tag.values())
        assert sent_by_a < len(acked), "the kill came too late to leave a backlog for node B"

        # Node B delivers everything A acknowledged.
        async with httpx.AsyncClient(
            base_url=node_b.url, headers={"Authorization": f"Bearer {node_a.key}"}, timeout=5
        ) as api:
            pending = set(acked)
            deadline = time.monotonic() + 90
            while pending and time.monotonic() < deadline:
                for message_id in list(pending)[:100]:
                    body = (await api.get(f"/v1/messages/{message_id}")).json()
                    assert body["status"] not in ("failed", "rejected", "expired"), body
                    if body["status"] == "delivered":
                        pending.discard(message_id)
                await asyncio.sleep(0.1)
            assert not pending, f"{len(pending)} acknowledged messages not delivered"

        # Each once at the carrier, but for what was on the wire when A died.
        counts = {tag: carrier.submits_by_tag[tag] for tag in acked.values()}
        assert all(count >= 1 for count in counts.values())
        duplicates = sum(count - 1 for count in counts.values())
        assert duplicates <= WINDOW, f"{duplicates} duplicate sends"
        # A submission A committed but died before answering is still sent (its client cannot
        # know, and retries): at most the requests in flight, one per REST worker and one SMPP.
        assert len(set(carrier.submits_by_tag) - set(acked.values())) <= REST_WORKERS + 1

        # Every receipt asked for on node A reaches the receiver bound on node B.
        deadline = time.monotonic() + 30
        while set(smpp_acked) - receipts and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert not set(smpp_acked) - receipts, f"{len(set(smpp_acked) - receipts)} receipts lost"
        done.set()
        await collector

        assert _metric(node_b.url, "gateway_parts_submitted_total") > accepted_before
        assert _metric(node_b.url, "gateway_receipts_total") > 0
        assert _metric(node_b.url, "gateway_smpp_server_binds") >= 1
    finally:
        if receiver is not None:
            await receiver.close()
        for node in nodes:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(node.terminate)
        await carrier.stop()
