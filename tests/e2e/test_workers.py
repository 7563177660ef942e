"""GATEWAY_WORKERS: several gateway processes on one host, sharing ports and the store."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path

import httpx

from benchmarks.processes import children
from gateway.smpp.pdu import DeliverSm
from gateway.smpp.tlv import Tlv
from tests.e2e.harness import GatewayProcess, wait_for_status
from tests.esme_client import TestEsme, submit


async def _receipts_across_workers(port: int, password: str, workers: list[int]) -> None:
    # Four receivers: the supervisor deals them to the workers in turn; one transmitter submits.
    receivers = [await TestEsme.connect(port) for _ in range(4)]
    for rx in receivers:
        assert await rx.bind("rx", password=password) == 0
    tx = await TestEsme.connect(port)
    assert await tx.bind("tx", password=password) == 0
    assert sorted(_connections_on(pid, port) for pid in workers) == [2, 3]
    ids = {(await tx.request(submit(f"w{i}".encode()))).message_id for i in range(20)}
    got: set[object] = set()
    deadline = time.monotonic() + 20

    async def drain(rx: TestEsme) -> None:
        while not ids <= got and time.monotonic() < deadline:
            try:
                pdu = await rx.read(timeout=0.5)
            except TimeoutError:
                continue
            if isinstance(pdu, DeliverSm):
                got.add(pdu.tlvs[Tlv.RECEIPTED_MESSAGE_ID])

    await asyncio.gather(*(drain(rx) for rx in receivers))
    assert ids <= got
    for esme in [tx, *receivers]:
        await esme.close()


def test_two_workers_share_ports_and_deliver_everything(tmp_path: Path) -> None:
    gw = GatewayProcess(
        tmp_path,
        database_url=f"sqlite:///{tmp_path}/gw.db",
        GATEWAY_WORKERS="2",
        GATEWAY_DEMO_SMPP_PASSWORD="pw123456",
    )
    gw.start()
    try:
        gw.wait_ready()
        with gw.client() as client:
            ids = []
            for i in range(30):
                response = client.post(
                    "/v1/messages", json={"to": "+4915112345678", "from": "Acme", "text": f"{i}"}
                )
                assert response.status_code == 202, response.text
                ids.append(response.json()["id"])
            for message_id in ids:
                wait_for_status(client, message_id, "delivered", timeout=15)
        # A new connection each time (keep-alive would stay with one worker).
        nodes = {httpx.get(gw.url + "/readyz").json()["node"] for _ in range(40)}
        assert len(nodes) == 2, nodes  # both workers answer on the shared port
        assert gw.proc is not None
        workers = [pid for pid in children(gw.proc.pid) if _is_worker(pid)]
        assert len(workers) == 2
        # Each worker knows how many share its limits: without Redis, each keeps a carrier's
        # and an account's rate to its half (it was told 1, and two workers sent at twice it).
        assert {_environ(pid).get("GATEWAY_WORKERS") for pid in workers} == {"2"}
        asyncio.run(_receipts_across_workers(int(gw.env["GATEWAY_SMPP_PORT"]), "pw123456", workers))
        assert gw.terminate(timeout=40) == 0, gw.output()
    finally:
        gw.kill()


def test_workers_do_not_outlive_a_killed_supervisor(tmp_path: Path) -> None:
    gw = GatewayProcess(tmp_path, database_url=f"sqlite:///{tmp_path}/gw.db", GATEWAY_WORKERS="2")
    gw.start()
    try:
        gw.wait_ready()
        assert gw.proc is not None
        spawned = children(gw.proc.pid)
        assert len(spawned) == 3  # two workers and the simulator
        gw.kill()  # SIGKILL: the supervisor cannot clean up
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(_alive(pid) for pid in spawned):
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in spawned), "a worker outlived its supervisor"
    finally:
        gw.kill()


def _environ(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/environ", "rb") as f:
        pairs = [item.split(b"=", 1) for item in f.read().split(b"\0") if b"=" in item]
    return {k.decode(): v.decode(errors="replace") for k, v in pairs}


def _is_worker(pid: int) -> bool:
    return b"run" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")


def _connections_on(pid: int, port: int) -> int:
    """Established TCP connections process `pid` holds whose local port is `port`."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01" and fields[9] in inodes:
                count += 1
    return count


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; its parent is gone, init reaps it


def test_distinct_ports_make_a_local_cluster(
    tmp_path: Path, postgres_dsn: str, pg_schema: str, redis_url: str
) -> None:
    """`make cluster`: two nodes on their own ports, one PostgreSQL, one Redis, one simulator.
    A message submitted to node 0 is read back, delivered, through node 1."""
    gw = GatewayProcess(
        tmp_path,
        database_url=postgres_dsn,
        GATEWAY_DATABASE_SCHEMA=pg_schema,
        GATEWAY_REDIS_URL=redis_url,
        GATEWAY_REDIS_PREFIX=f"test:{pg_schema}:",
        consecutive_ports=2,  # the second node listens on each port plus one
        GATEWAY_WORKERS="2",
        GATEWAY_WORKER_PORTS="distinct",
    )
    second = gw.http_port + 1
    gw.start()
    try:
        gw.wait_ready()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{second}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        nodes = {
            httpx.get(f"http://127.0.0.1:{port}/readyz").json()["node"]
            for port in (gw.http_port, second)
        }
        assert len(nodes) == 2, nodes
        with (
            gw.client() as node0,
            httpx.Client(
                base_url=f"http://127.0.0.1:{second}",
                headers={"Authorization": f"Bearer {gw.key}"},
                timeout=10,
            ) as node1,
        ):
            response = node0.post(
                "/v1/messages", json={"to": "+4915112345678", "from": "Acme", "text": "hi"}
            )
            assert response.status_code == 202, response.text
            wait_for_status(node1, response.json()["id"], "delivered", timeout=15)
        output = gw.output()
        assert f"node 1: REST on http://127.0.0.1:{second}" in output
        assert gw.terminate(timeout=40) == 0, output
    finally:
        gw.kill()
