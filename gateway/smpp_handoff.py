"""SMPP connections spread over several worker processes in turn (`GATEWAY_WORKERS` > 1).

HTTP clients open many short connections, and the kernel's SO_REUSEPORT hash spreads them well
enough. An aggregator opens a handful of SMPP binds and keeps them for days: hashed, four
transmitters landed all on one of two workers in two of five benchmark runs, and that worker
carried the whole load while the other idled. So with shared ports the supervisor
listens for SMPP itself, accepts, and hands each accepted socket to the next worker in turn
over a Unix socket (SCM_RIGHTS); the worker serves it as if it had accepted it (TLS included).
Nothing of the SMPP session passes through the supervisor.

`ConnectionDealer` is the supervisor's side (a thread: the supervisor is synchronous),
`receive_connections` the worker's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

_ACCEPT_POLL = 0.5  # seconds: how soon the accept thread notices `close`
_SEND_TIMEOUT = 2.0  # a worker that does not take a socket this fast is skipped...
_STALLED_FOR = 10.0  # ...for this long
_READY_WAIT = 10.0  # seconds a connection waits for some worker to be ready before it is closed
READY = b"r"  # a worker's first message on its channel: it serves what it is handed from now


class _Channel:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.ready = False  # the worker said READY
        self.stalled_until = 0.0


class ConnectionDealer:
    """Listens on the SMPP address and deals accepted connections to workers in turn: only to a
    worker that said it is serving, skipping one that is gone or not taking them. With no worker
    ready, a connection waits a little, then is closed rather than left hanging."""

    def __init__(self, host: str, port: int) -> None:
        self._listener = _listen(host, port)
        self._listener.settimeout(_ACCEPT_POLL)
        self.port: int = self._listener.getsockname()[1]
        self._channels: dict[int, _Channel] = {}
        self._lock = threading.Lock()  # channels are replaced by `attach`, used by `deal`
        self._turn = 0
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self.dealt: dict[int, int] = {}  # connections handed to each worker index

    def attach(self, index: int) -> int:
        """A new channel to worker `index` (replacing its old one): the descriptor to pass to
        it, which the caller closes in this process once the worker has started."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.settimeout(_SEND_TIMEOUT)
        with self._lock:
            old = self._channels.pop(index, None)
            self._channels[index] = _Channel(ours)
            if old is not None:
                old.sock.close()
        theirs.set_inheritable(True)
        return theirs.detach()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._accept_loop, name="smpp-dealer", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._closed.set()
        if self._thread is not None:
            self._thread.join(timeout=_ACCEPT_POLL + _READY_WAIT + _SEND_TIMEOUT * 4)
        self._listener.close()
        with self._lock:
            for channel in self._channels.values():
                channel.sock.close()
            self._channels.clear()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._closed.is_set():
                    return
                log.exception("accepting an SMPP connection failed")
                continue
            with conn:  # our copy: the worker holds its own once it is sent
                if not self._deal_when_ready(conn):
                    log.error("no worker took an SMPP connection; it is closed")

    def _deal_when_ready(self, conn: socket.socket) -> bool:
        deadline = time.monotonic() + _READY_WAIT
        while True:
            if self.deal(conn):
                return True
            if time.monotonic() >= deadline or self._closed.is_set():
                return False
            time.sleep(0.05)  # workers starting or restarting

    def deal(self, conn: socket.socket) -> bool:
        """Hand `conn` to the next ready worker that takes it; False when none did."""
        with self._lock:  # held while sending: `attach` must not close a channel in use
            now = time.monotonic()
            order = sorted(self._channels)
            for index in order:
                _poll_ready(self._channels[index])
            if not order:
                return False
            first = self._turn % len(order)
            self._turn += 1
            for index in order[first:] + order[:first]:
                channel = self._channels[index]
                if not channel.ready or channel.stalled_until > now:
                    continue
                try:
                    socket.send_fds(channel.sock, [b"c"], [conn.fileno()])
                except TimeoutError:
                    log.warning("SMPP worker %d is not taking connections; skipped a while", index)
                    channel.stalled_until = now + _STALLED_FOR
                    continue
                except OSError as exc:  # the worker died: until it is attached again
                    log.warning("SMPP connection not handed to worker %d: %s", index, exc)
                    channel.ready = False
                    continue
                self.dealt[index] = self.dealt.get(index, 0) + 1
                return True
        return False


def _poll_ready(channel: _Channel) -> None:
    """Read what the worker said, without waiting: READY once it serves, nothing else."""
    if channel.ready:
        return
    try:
        said = channel.sock.recv(16, socket.MSG_DONTWAIT)
    except OSError:  # nothing said yet (EAGAIN), or the channel is gone
        return
    channel.ready = said == READY


def _listen(host: str, port: int) -> socket.socket:
    """A TCP listener as asyncio's `create_server` would make for `host`: "" or "::" on every
    IPv4 and IPv6 address where the system allows both, a name or address on its family."""
    if host in ("", "::") and socket.has_dualstack_ipv6():
        return socket.create_server(
            ("", port), family=socket.AF_INET6, backlog=512, dualstack_ipv6=True
        )
    family, _, _, _, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    return socket.create_server(address[:2], family=family, backlog=512)


def receive_connections(
    loop: asyncio.AbstractEventLoop, fd: int, serve: Callable[[socket.socket], None]
) -> Callable[[], None]:
    """Call `serve` with each connection the supervisor hands over on channel `fd`, telling it
    first that this worker serves from now on; returns the function that stops listening (and
    closes the channel)."""
    channel = socket.socket(fileno=fd)
    channel.setblocking(False)

    def readable() -> None:
        while True:
            try:
                data, fds, flags, _ = socket.recv_fds(channel, 16, 8, socket.MSG_CMSG_CLOEXEC)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                log.exception("the SMPP hand-off channel failed")
                stop()
                return
            if flags & socket.MSG_CTRUNC:
                log.error("an SMPP connection handed over was lost: out of file descriptors?")
            if not data and not fds:  # the supervisor is gone
                stop()
                return
            for received in fds:
                sock = socket.socket(fileno=received)
                sock.setblocking(False)
                serve(sock)

    def stop() -> None:
        with contextlib.suppress(Exception):
            loop.remove_reader(channel)
        channel.close()

    loop.add_reader(channel, readable)
    channel.send(READY)
    return stop
