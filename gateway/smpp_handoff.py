"""SMPP connections spread over several worker processes in turn (`GATEWAY_WORKERS` > 1).

HTTP clients open many short connections, and the kernel's SO_REUSEPORT hash spreads them well
enough. An aggregator opens a handful of SMPP binds and keeps them for days: hashed, four
transmitters landed all on one of two workers in a third of the benchmark's runs, and that
worker carried the whole load while the other idled. So with shared ports the supervisor
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
from collections.abc import Callable

log = logging.getLogger(__name__)

_ACCEPT_POLL = 0.5  # seconds: how soon the accept thread notices `close`
_SEND_TIMEOUT = 2.0  # a worker that does not take a socket this fast is skipped


class ConnectionDealer:
    """Listens on the SMPP address and deals accepted connections to workers in turn, skipping
    a worker that is down or not taking them; with no worker to take it, a connection is
    closed at once rather than left waiting."""

    def __init__(self, host: str, port: int) -> None:
        self._listener = socket.create_server((host, port), backlog=512, reuse_port=False)
        self._listener.settimeout(_ACCEPT_POLL)
        self.port: int = self._listener.getsockname()[1]
        self._workers: dict[int, socket.socket] = {}
        self._lock = threading.Lock()
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
            old = self._workers.pop(index, None)
            self._workers[index] = ours
        if old is not None:
            old.close()
        theirs.set_inheritable(True)
        return theirs.detach()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._accept_loop, name="smpp-dealer", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._closed.set()
        if self._thread is not None:
            self._thread.join(timeout=_ACCEPT_POLL * 4)
        self._listener.close()
        with self._lock:
            for sock in self._workers.values():
                sock.close()
            self._workers.clear()

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
                if not self.deal(conn):
                    log.error("no worker took an SMPP connection; it is closed")

    def deal(self, conn: socket.socket) -> bool:
        """Hand `conn` to the next worker that takes it."""
        with self._lock:
            order = sorted(self._workers)
            if not order:
                return False
            first = self._turn % len(order)
            self._turn += 1
            candidates = [(i, self._workers[i]) for i in order[first:] + order[:first]]
        for index, channel in candidates:
            try:
                socket.send_fds(channel, [b"c"], [conn.fileno()])
            except OSError as exc:  # the worker died or is stuck: the next one
                log.warning("SMPP connection not handed to worker %d: %s", index, exc)
                continue
            self.dealt[index] = self.dealt.get(index, 0) + 1
            return True
        return False


def receive_connections(
    loop: asyncio.AbstractEventLoop, fd: int, serve: Callable[[socket.socket], None]
) -> Callable[[], None]:
    """Call `serve` with each connection the supervisor hands over on channel `fd`; returns
    the function that stops listening (and closes the channel)."""
    channel = socket.socket(fileno=fd)
    channel.setblocking(False)

    def readable() -> None:
        while True:
            try:
                data, fds, _, _ = socket.recv_fds(channel, 16, 8)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                log.exception("the SMPP hand-off channel failed")
                stop()
                return
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
    return stop
