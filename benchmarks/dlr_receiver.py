"""The load generator's receipt counter: a minimal HTTP/1.1 server (asyncio protocol, keep-alive)
that takes Kannel's dlr-url GETs, `GET /dlr?n=<message index>&type=<%d>`, and records when each
receipt arrived.

It runs in the load generator's own event loop, so it must cost little: it parses only the
request line, answers every request with a fixed 200, and reads nothing else of the headers (a
dlr-url GET has no body).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import cast
from urllib.parse import parse_qs, urlsplit

# Kannel's dlr-mask bits (user guide, sendsms "dlr-mask"): 1 delivered to the phone, 2 not
# delivered, 4 queued on the SMSC, 8 accepted by the SMSC, 16 rejected by the SMSC.
DLR_DELIVERED = 1
_REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"
_MAX_HEAD = 16 * 1024


class DlrReceiver:
    """Counts receipts by type; `delivered_at[n]` is when message n's DELIVRD receipt arrived
    (perf_counter). A second receipt for one message is counted in `duplicates`."""

    def __init__(self) -> None:
        self.types: Counter[int] = Counter()
        self.delivered_at: dict[int, float] = {}
        self.duplicates = 0
        self.malformed = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._wanted = 0
        self._reached = asyncio.Event()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Protocol(self), "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/dlr"

    def record(self, target: bytes) -> None:
        query = parse_qs(urlsplit(target.decode("latin-1")).query)
        try:
            n = int(query["n"][0])
            kind = int(query["type"][0])
        except (KeyError, ValueError):
            self.malformed += 1
            return
        self.types[kind] += 1
        if kind == DLR_DELIVERED:
            if n in self.delivered_at:
                self.duplicates += 1
            else:
                self.delivered_at[n] = time.perf_counter()
                if len(self.delivered_at) >= self._wanted:
                    self._reached.set()

    async def wait_delivered(self, count: int, timeout: float) -> bool:
        """Wait until `count` messages have their DELIVRD receipt, at most `timeout` seconds."""
        self._wanted = count
        if len(self.delivered_at) >= count:
            return True
        self._reached.clear()
        try:
            async with asyncio.timeout(timeout):
                await self._reached.wait()
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None


class _Protocol(asyncio.Protocol):
    def __init__(self, receiver: DlrReceiver) -> None:
        self._receiver = receiver
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        transport = self._transport
        assert transport is not None
        self._buffer += data
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > _MAX_HEAD:
                    transport.close()
                return
            head, self._buffer = self._buffer[:end], self._buffer[end + 4 :]
            request_line = head.split(b"\r\n", 1)[0]
            parts = request_line.split(b" ")
            if len(parts) == 3:
                self._receiver.record(parts[1])
            else:
                self._receiver.malformed += 1
            transport.write(_REPLY)
