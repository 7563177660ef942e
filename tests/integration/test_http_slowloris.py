"""Slowloris, connection floods and oversized bodies against the real REST API on loopback:
each gets a problem+json answer and a closed connection in bounded time, nothing is held after,
and a normal client is served promptly while the attack runs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gateway.app import Gateway
from tests.conftest import DEMO_KEY
from tests.integration.admin_nodes import running

pytestmark = pytest.mark.serial  # timed: make test runs it alone, after the rest

HEAD_TIMEOUT = 0.5
BODY_TIMEOUT = 0.5
MAX_BODY = 2048
PER_ADDRESS = 5
BOUND = 5.0  # every close must come within this (timeouts plus slack for a loaded machine)
ATTACKER = "127.0.0.2"  # loopback has the whole 127/8: a second source address


@pytest.fixture
async def guarded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Gateway]:
    async with running(
        monkeypatch,
        node_id="http-slowloris",
        database_url=f"sqlite:///{tmp_path}/gw.db",
        http_head_timeout=HEAD_TIMEOUT,
        http_body_timeout=BODY_TIMEOUT,
        http_max_body=MAX_BODY,
        http_max_connections_per_address=PER_ADDRESS,
    ) as gw:
        yield gw


async def _connect(
    gw: Gateway, source: str = "127.0.0.1"
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", gw.http_port, local_addr=(source, 0))


async def _answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, object], float]:
    """Read until the server closes: (status, problem body, seconds taken)."""
    start = time.monotonic()
    data = b""
    with contextlib.suppress(ConnectionError):
        while chunk := await asyncio.wait_for(reader.read(65536), BOUND):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head else 0
    if status and b"application/problem+json" not in head:
        raise AssertionError(f"not a problem+json answer: {head!r}")
    return status, json.loads(body) if body else {}, time.monotonic() - start


async def _released(gw: Gateway) -> None:
    for _ in range(100):
        if gw.http_guard.open == 0:
            break
        await asyncio.sleep(0.02)
    assert gw.http_guard.open == 0
    assert gw.http_guard.per_address == {}


async def test_a_connection_that_sends_nothing_gets_408(guarded: Gateway) -> None:
    reader, writer = await _connect(guarded)
    status, problem, took = await _answer(reader)
    assert status == 408
    assert problem["code"] == "request.timeout"
    assert HEAD_TIMEOUT * 0.8 <= took < BOUND
    writer.close()
    await _released(guarded)


async def test_dribbled_headers_are_cut_off_while_a_normal_client_is_served(
    guarded: Gateway,
) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200 + b"\r\n\r\n"
    attackers = [await _connect(guarded, ATTACKER) for _ in range(PER_ADDRESS * 2)]

    async def dribble(writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            for octet in head:  # one octet every 50 ms: never idle, never done
                writer.write(bytes([octet]))
                await writer.drain()
                await asyncio.sleep(0.05)

    senders = [asyncio.create_task(dribble(w)) for _, w in attackers]
    answers = asyncio.gather(*(_answer(r) for r, _ in attackers))
    # A normal client from another address, during the attack.
    latencies = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{guarded.http_port}") as client:
        for _ in range(5):
            start = time.monotonic()
            assert (await client.get("/healthz")).status_code == 200
            latencies.append(time.monotonic() - start)
            await asyncio.sleep(0.05)
    results = await answers
    for task in senders:
        task.cancel()
    await asyncio.gather(*senders, return_exceptions=True)
    statuses = sorted(status for status, _, _ in results)
    # Those over the per-address cap refused at once, the others cut at the head deadline.
    assert statuses == [408] * PER_ADDRESS + [503] * PER_ADDRESS
    assert all(took < BOUND for _, _, took in results)
    assert max(latencies) < 1.0
    assert guarded.http_guard.refused["max_connections_per_address"] == PER_ADDRESS
    assert guarded.http_guard.refused["head_timeout"] == PER_ADDRESS
    for _, w in attackers:
        w.close()
    await _released(guarded)


async def test_a_body_slower_than_announced_gets_408(guarded: Gateway) -> None:
    reader, writer = await _connect(guarded)
    writer.write(
        b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + DEMO_KEY.encode()
        + b'\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"to": '
    )
    status, problem, took = await _answer(reader)
    assert status == 408
    assert problem["code"] == "request.timeout"
    assert BODY_TIMEOUT * 0.8 <= took < BOUND
    writer.close()
    await _released(guarded)


async def test_an_announced_oversized_body_is_refused_before_it_is_read(guarded: Gateway) -> None:
    reader, writer = await _connect(guarded)
    writer.write(
        b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000000000\r\n\r\n"
    )
    status, problem, took = await _answer(reader)
    assert status == 413
    assert problem["code"] == "request.too_large"
    assert took < HEAD_TIMEOUT
    writer.close()
    await _released(guarded)


async def test_a_chunked_body_growing_past_the_limit_is_refused(guarded: Gateway) -> None:
    reader, writer = await _connect(guarded)
    writer.write(
        b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + DEMO_KEY.encode()
        + b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"x" * 1000
    for _ in range(4):
        writer.write(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
    status, problem, _ = await _answer(reader)
    assert status == 413
    assert problem["code"] == "request.too_large"
    writer.close()
    await _released(guarded)


async def test_normal_requests_and_keep_alive_still_work(guarded: Gateway) -> None:
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{guarded.http_port}",
        headers={"Authorization": f"Bearer {DEMO_KEY}"},
    ) as client:
        for _ in range(3):
            response = await client.post(
                "/v1/messages", json={"to": "+4915112345678", "from": "Acme", "text": "hello"}
            )
            assert response.status_code == 202, response.text
            await asyncio.sleep(HEAD_TIMEOUT * 0.5)
        metrics = (await client.get("/metrics")).text
    assert "gateway_http_connections" in metrics
    await _released(guarded)
