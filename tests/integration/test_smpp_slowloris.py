"""Slowloris and idle peers against the real SMPP server on loopback: each is closed within a
bounded time and its per-connection state is released (the connection gauge returns to 0)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gateway.app import Gateway
from gateway.smpp.codes import CommandStatus
from gateway.smpp.pdu import BindTransceiver, EnquireLink, encode
from tests.conftest import DEMO_SMPP_PASSWORD
from tests.esme_client import TestEsme
from tests.integration.admin_nodes import running

pytestmark = pytest.mark.serial  # timed: make test runs it alone, after the rest

# The bind deadline is the longer one, so a dribbled bind is always cut by the PDU deadline
# first, however late its first octet arrives on a loaded machine.
BIND_TIMEOUT = 1.5
PDU_TIMEOUT = 0.5
WRITE_STALL_TIMEOUT = 1.0
PER_ADDRESS = 3
# Every close below must come within this (timeouts plus generous slack for a loaded machine).
BOUND = 5.0


@pytest.fixture
async def guarded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Gateway]:
    async with running(
        monkeypatch,
        node_id="slowloris",
        database_url=f"sqlite:///{tmp_path}/gw.db",
        smpp_bind_timeout=BIND_TIMEOUT,
        smpp_pdu_timeout=PDU_TIMEOUT,
        smpp_write_stall_timeout=WRITE_STALL_TIMEOUT,
        smpp_write_buffer_limit=4096,
        smpp_max_connections_per_address=PER_ADDRESS,
    ) as gw:
        yield gw


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> float:
    """Read (and discard) until the server closes; return how long that took."""
    start = time.monotonic()
    with contextlib.suppress(ConnectionError):
        while await asyncio.wait_for(reader.read(65536), seconds):
            pass
    return time.monotonic() - start


async def _metric(gw: Gateway, series: str) -> float:
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"http://127.0.0.1:{gw.http_port}/metrics")).text
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return 0.0


async def _released(gw: Gateway) -> None:
    """The server forgets the connection: registry empty, gauge 0, no per-address count."""
    for _ in range(100):
        if not gw.smpp_server.connections:
            break
        await asyncio.sleep(0.02)
    assert not gw.smpp_server.connections
    assert await _metric(gw, "gateway_smpp_server_connections") == 0
    assert not gw.smpp_server._per_address


async def test_a_peer_that_never_binds_is_closed(guarded: Gateway) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", guarded.smpp_port)
    took = await _closed_within(reader, BOUND)
    assert BIND_TIMEOUT * 0.8 <= took < BOUND
    await _released(guarded)
    dropped = 'gateway_smpp_server_dropped_total{reason="bind_timeout"}'
    assert await _metric(guarded, dropped) == 1
    writer.close()


async def test_a_bind_dribbled_one_octet_at_a_time_is_cut_off(guarded: Gateway) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", guarded.smpp_port)
    bind = encode(BindTransceiver(1, system_id="demo", password=DEMO_SMPP_PASSWORD))
    start = time.monotonic()

    async def dribble() -> None:
        # Every octet arrives well within any inter-byte gap; only the PDU deadline ends it.
        for octet in bind:
            writer.write(bytes([octet]))
            await asyncio.sleep(0.1)

    sender = asyncio.create_task(dribble())
    with contextlib.suppress(ConnectionError):
        await _closed_within(reader, BOUND)
    took = time.monotonic() - start
    sender.cancel()
    with contextlib.suppress(asyncio.CancelledError, ConnectionError):
        await sender
    assert took < BOUND
    assert took < len(bind) * 0.1  # closed before the slow bind could complete
    await _released(guarded)
    dropped = 'gateway_smpp_server_dropped_total{reason="pdu_timeout"}'
    assert await _metric(guarded, dropped) == 1
    writer.close()


async def test_a_bound_peer_stalling_mid_pdu_is_closed(guarded: Gateway) -> None:
    esme = await TestEsme.connect(guarded.smpp_port)
    assert await esme.bind("trx", password=DEMO_SMPP_PASSWORD) == CommandStatus.ESME_ROK
    esme.send_raw(encode(EnquireLink(7))[:10])  # header half sent, then nothing
    took = await _closed_within(esme.reader, BOUND)
    assert PDU_TIMEOUT * 0.8 <= took < BOUND
    await _released(guarded)
    assert await _metric(guarded, 'gateway_smpp_server_binds{system_id="demo"}') == 0
    await esme.close()


async def test_a_bound_peer_that_stops_reading_is_dropped(guarded: Gateway) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # A small receive buffer so the server's writes back up quickly.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", guarded.smpp_port))
    reader, writer = await asyncio.open_connection(sock=sock)
    esme = TestEsme(reader, writer)
    assert await esme.bind("trx", password=DEMO_SMPP_PASSWORD) == CommandStatus.ESME_ROK
    # Requests whose answers we never read: the answers pile up on the server's side.
    start = time.monotonic()
    burst = b"".join(encode(EnquireLink(seq)) for seq in range(1, 2001))
    with contextlib.suppress(ConnectionError):
        for _ in range(200):
            writer.write(burst)
            await asyncio.wait_for(writer.drain(), BOUND)
            if guarded.smpp_server.connections == set():
                break
            await asyncio.sleep(0.02)
    while guarded.smpp_server.connections and time.monotonic() - start < BOUND + 5:
        await asyncio.sleep(0.05)
    assert time.monotonic() - start < BOUND + 5
    await _released(guarded)
    dropped = 'gateway_smpp_server_dropped_total{reason="write_stall"}'
    assert await _metric(guarded, dropped) == 1
    writer.close()


async def test_connections_over_the_per_address_cap_are_refused(guarded: Gateway) -> None:
    held = [
        await asyncio.open_connection("127.0.0.1", guarded.smpp_port) for _ in range(PER_ADDRESS)
    ]
    for _ in range(50):
        if len(guarded.smpp_server.connections) == PER_ADDRESS:
            break
        await asyncio.sleep(0.02)
    reader, writer = await asyncio.open_connection("127.0.0.1", guarded.smpp_port)
    assert await _closed_within(reader, BOUND) < BIND_TIMEOUT  # refused, not timed out
    writer.close()
    # Another source address is not held back by this one's connections.
    other_reader, other_writer = await asyncio.open_connection(
        "127.0.0.1", guarded.smpp_port, local_addr=("127.0.0.2", 0)
    )
    other = TestEsme(other_reader, other_writer)
    assert await other.bind("trx", password=DEMO_SMPP_PASSWORD) == CommandStatus.ESME_ROK
    dropped = 'gateway_smpp_server_dropped_total{reason="max_connections_per_address"}'
    assert await _metric(guarded, dropped) == 1
    await other.close()
    for _, w in held:
        w.close()
    await _released(guarded)
