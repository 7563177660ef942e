"""The supervisor's SMPP dealer: accepted connections go to the workers in turn, over real
Unix channels, skipping a worker that is gone; a worker's side serves what it is handed."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable

import pytest

from gateway import smpp_handoff
from gateway.smpp_handoff import ConnectionDealer, receive_connections


async def _serve_handed_over(
    fds: list[int],
) -> tuple[list[list[socket.socket]], list[Callable[[], None]]]:
    """One receiver per channel fd, each collecting the sockets it is handed."""
    loop = asyncio.get_running_loop()
    received: list[list[socket.socket]] = [[] for _ in fds]
    stops = [receive_connections(loop, fd, received[i].append) for i, fd in enumerate(fds)]
    return received, stops


async def _until(condition: object, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.01)


async def test_connections_are_dealt_in_turn_and_served_by_the_worker() -> None:
    dealer = ConnectionDealer("127.0.0.1", 0)
    fds = [dealer.attach(0), dealer.attach(1)]
    received, stops = await _serve_handed_over(fds)
    dealer.start()
    clients: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    try:
        clients += [await asyncio.open_connection("127.0.0.1", dealer.port) for _ in range(5)]
        await _until(lambda: sum(map(len, received)) == 5)
        assert [len(r) for r in received] == [3, 2]
        assert dealer.dealt == {0: 3, 1: 2}
        # The worker's socket is the client's connection: bytes go both ways.
        worker_side = received[1][0]
        worker_side.setblocking(True)
        reader, writer = clients[1]
        writer.write(b"ping")
        await writer.drain()
        assert await asyncio.to_thread(worker_side.recv, 4) == b"ping"
        worker_side.sendall(b"pong")
        assert await reader.readexactly(4) == b"pong"
    finally:
        for _, writer in clients:
            writer.close()
        for sockets in received:
            for sock in sockets:
                sock.close()
        for stop in stops:
            stop()
        dealer.close()


async def test_a_worker_that_is_gone_is_skipped_and_with_none_the_connection_closes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(smpp_handoff, "_READY_WAIT", 0.3)
    dealer = ConnectionDealer("127.0.0.1", 0)
    gone = dealer.attach(0)
    os.close(gone)  # worker 0 died: its end of the channel is closed
    received, stops = await _serve_handed_over([dealer.attach(1)])
    dealer.start()
    try:
        clients = [await asyncio.open_connection("127.0.0.1", dealer.port) for _ in range(3)]
        await _until(lambda: len(received[0]) == 3)
        assert dealer.dealt == {1: 3}
        for _, writer in clients:
            writer.close()
        stops[0]()
        # Worker 1 gone too: a connection is closed by us, not left waiting.
        reader, writer = await asyncio.open_connection("127.0.0.1", dealer.port)
        async with asyncio.timeout(5):
            assert await reader.read() == b""
        writer.close()
    finally:
        for sock in received[0]:
            sock.close()
        dealer.close()


async def test_a_connection_waits_for_a_worker_that_is_still_starting() -> None:
    """A worker gets connections only once it said it serves (SO_REUSEPORT gave a worker none
    before it listened); one that is still starting makes a connection wait, not fail."""
    dealer = ConnectionDealer("127.0.0.1", 0)
    fd = dealer.attach(0)
    dealer.start()
    received: list[socket.socket] = []
    stop: Callable[[], None] | None = None
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", dealer.port)
        await asyncio.sleep(0.3)
        assert dealer.dealt == {}  # the worker has not said READY yet
        stop = receive_connections(asyncio.get_running_loop(), fd, received.append)
        await _until(lambda: received)
        assert dealer.dealt == {0: 1}
        writer.close()
    finally:
        for sock in received:
            sock.close()
        if stop is not None:
            stop()
        dealer.close()


def test_the_dealer_listens_on_ipv6_too() -> None:
    dealer = ConnectionDealer("::1", 0)
    try:
        with socket.create_connection(("::1", dealer.port), timeout=2):
            pass
    finally:
        dealer.close()
