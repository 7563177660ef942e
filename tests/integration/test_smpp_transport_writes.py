"""The SMPP transport's write path over a real loopback socket: PDUs sent in one turn of the
event loop leave in one write, in order, and a close right after a send still delivers it."""

from __future__ import annotations

import asyncio
from typing import Any

from gateway.smpp.pdu import EnquireLink
from gateway.smpp.session import Event, Role
from gateway.smpp_io import SessionProtocol


class _CountingTransport:
    """The real transport, with its `write` calls recorded."""

    def __init__(self, transport: Any) -> None:
        self._transport = transport
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _Esme(SessionProtocol):
    def __init__(self) -> None:
        super().__init__(Role.ESME)
        self.counting: _CountingTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.counting = _CountingTransport(transport)
        super().connection_made(self.counting)  # type: ignore[arg-type]

    def handle_event(self, event: Event) -> None:
        pass


async def _peer() -> tuple[asyncio.Server, int, asyncio.Future[bytes]]:
    received: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.set_result(await reader.read())  # until the client closes
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], received


async def test_pdus_sent_in_one_loop_turn_leave_in_one_write() -> None:
    server, port, received = await _peer()
    async with server:
        loop = asyncio.get_running_loop()
        _, esme = await loop.create_connection(_Esme, "127.0.0.1", port)
        sent = [esme.send(EnquireLink()) for _ in range(3)]
        assert esme.counting is not None and esme.counting.writes == []  # not yet: end of turn
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert len(esme.counting.writes) == 1
        esme.close()
        data = await asyncio.wait_for(received, 5)
    assert [p.sequence_number for p in sent] == [1, 2, 3]
    assert data == b"".join(
        bytes.fromhex(f"000000100000001500000000{seq:08x}") for seq in (1, 2, 3)
    )


async def test_close_right_after_send_still_delivers_the_pdu() -> None:
    server, port, received = await _peer()
    async with server:
        loop = asyncio.get_running_loop()
        _, esme = await loop.create_connection(_Esme, "127.0.0.1", port)
        esme.send(EnquireLink())
        esme.close()  # in the same turn: what was sent goes out before the close
        data = await asyncio.wait_for(received, 5)
    assert data == bytes.fromhex("00000010000000150000000000000001")
