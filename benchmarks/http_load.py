"""A minimal HTTP/1.1 load generator on asyncio streams: keep-alive connections, one request
in flight per connection, requests encoded once.

httpx spends more CPU per request than a small FastAPI endpoint does, so it would measure
itself; this client parses only the status line, Content-Length (or chunked framing) and
`Connection: close`. Two shapes of load:

- `closed_loop`: `concurrency` connections, each sending its next request when the previous
  answer arrives (throughput at saturation; latency measured from the send).
- `open_loop`: requests released at a fixed rate whatever the answers do, over a pool of
  connections; latency measured from the intended send time, so a stalled server shows up as
  latency instead of silently lowering the offered load (coordinated omission).

Both stop at a request count and at a deadline, whichever comes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

# A request, or a function of the request's index (0, 1, ...) that encodes it: per-message
# content, such as a callback URL naming the message.
RequestSource = bytes | Callable[[int], bytes]


class HttpProtocolError(Exception):
    """The server's response could not be read as HTTP/1.1."""


def build_request(
    method: str, path: str, *, host: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class HttpConnection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self.closed = False

    @classmethod
    async def open(cls, host: str, port: int) -> HttpConnection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def request(self, data: bytes) -> tuple[int, bytes]:
        """Send one encoded request and read its response: (status, body)."""
        self._writer.write(data)
        head = await self._reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 "):
            raise HttpProtocolError(f"not an HTTP/1.1 status line: {head[:40]!r}")
        status = int(head[9:12])
        lower = head.lower()
        at = lower.find(b"\r\ncontent-length:")
        if at >= 0:
            end = lower.index(b"\r\n", at + 2)
            body = await self._reader.readexactly(int(lower[at + 17 : end]))
        elif b"\r\ntransfer-encoding: chunked" in lower:
            body = await self._read_chunked()
        else:
            raise HttpProtocolError("response without Content-Length or chunked framing")
        if b"\r\nconnection: close" in lower:
            self.close()
        return status, body

    async def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        for _ in range(100_000):  # bounded: a response of more chunks is not one we send
            size_line = await self._reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0], 16)
            if size == 0:
                await self._reader.readuntil(b"\r\n")  # no trailers expected
                return b"".join(chunks)
            chunks.append(await self._reader.readexactly(size))
            await self._reader.readexactly(2)
        raise HttpProtocolError("too many chunks")

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._writer.close()


@dataclass
class LoadResult:
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)  # seconds, of answered requests
    transport_errors: int = 0
    timed_out: bool = False
    started: float = 0.0  # perf_counter
    finished: float = 0.0
    generator_cpu: float = 0.0  # CPU seconds of this process during the load

    @property
    def answered(self) -> int:
        return sum(self.statuses.values())

    @property
    def elapsed(self) -> float:
        return max(self.finished - self.started, 1e-9)

    def count(self, status: int) -> int:
        return self.statuses[status]

    def rate(self, status: int) -> float:
        return self.statuses[status] / self.elapsed

    @property
    def generator_utilisation(self) -> float:
        """Share of one core the generator used (1.0: it may be the bottleneck)."""
        return self.generator_cpu / self.elapsed


async def closed_loop(
    host: str,
    port: int,
    request: RequestSource,
    *,
    concurrency: int,
    duration: float,
    max_requests: int,
    grace: float = 10.0,
    on_answer: Callable[[int, int], None] | None = None,
    on_body: Callable[[int, int, bytes], None] | None = None,
) -> LoadResult:
    """`concurrency` keep-alive connections sending back to back for `duration` seconds or
    `max_requests` requests in all; the whole load is abandoned `grace` seconds after that.
    `on_answer(index, status)` is called for each answered request, `on_body(index, status,
    body)` too when the response's content matters (the generator's CPU counts it)."""
    result = LoadResult()
    sent = 0
    connections = await _open_all(host, port, concurrency)

    async def worker(conn: HttpConnection, deadline: float) -> None:
        nonlocal sent
        try:
            while sent < max_requests and time.perf_counter() < deadline and not conn.closed:
                index = sent
                sent += 1
                data = request if isinstance(request, bytes) else request(index)
                t0 = time.perf_counter()
                status, body = await conn.request(data)
                result.latencies.append(time.perf_counter() - t0)
                result.statuses[status] += 1
                if on_answer is not None:
                    on_answer(index, status)
                if on_body is not None:
                    on_body(index, status, body)
        except (OSError, asyncio.IncompleteReadError, HttpProtocolError, ValueError):
            result.transport_errors += 1

    cpu0 = time.process_time()
    result.started = time.perf_counter()
    deadline = result.started + duration
    tasks = [asyncio.create_task(worker(conn, deadline)) for conn in connections]
    await _bounded_wait(tasks, duration + grace, result)
    result.finished = time.perf_counter()
    result.generator_cpu = time.process_time() - cpu0
    for conn in connections:
        conn.close()
    return result


async def open_loop(
    host: str,
    port: int,
    request: bytes,
    *,
    rate: float,
    count: int,
    connections: int,
    timeout: float,
) -> LoadResult:
    """Release `count` requests at `rate` per second over a pool of `connections`; give up
    `timeout` seconds after the start."""
    result = LoadResult()
    pool: asyncio.Queue[HttpConnection] = asyncio.Queue()
    opened = await _open_all(host, port, connections)
    for conn in opened:
        pool.put_nowait(conn)

    async def one(intended: float) -> None:
        conn = await pool.get()
        try:
            status, _ = await conn.request(request)
        except (OSError, asyncio.IncompleteReadError, HttpProtocolError, ValueError):
            result.transport_errors += 1
            conn.close()
            return  # the connection is not returned: the pool shrinks, the load stays bounded
        result.latencies.append(time.perf_counter() - intended)
        result.statuses[status] += 1
        pool.put_nowait(conn)

    cpu0 = time.process_time()
    result.started = start = time.perf_counter()
    tasks: list[asyncio.Task[None]] = []

    async def release() -> None:
        released = 0
        while released < count:
            now = time.perf_counter()
            due = min(count, int((now - start) * rate) + 1)
            while released < due:
                tasks.append(asyncio.create_task(one(start + released / rate)))
                released += 1
            if released < count:
                await asyncio.sleep(max(0.0, start + released / rate - time.perf_counter()))
        await asyncio.gather(*tasks)

    releaser = asyncio.create_task(release())
    await _bounded_wait([releaser], timeout, result)
    for task in tasks:
        task.cancel()
    result.finished = time.perf_counter()
    result.generator_cpu = time.process_time() - cpu0
    for conn in opened:
        conn.close()
    return result


async def _open_all(host: str, port: int, n: int) -> list[HttpConnection]:
    return list(await asyncio.gather(*(HttpConnection.open(host, port) for _ in range(n))))


async def _bounded_wait(
    tasks: list[asyncio.Task[None]], timeout: float, result: LoadResult
) -> None:
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    if pending:
        result.timed_out = True
        for task in pending:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*pending, return_exceptions=True)
