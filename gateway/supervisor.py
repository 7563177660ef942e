"""Several gateway processes on one host (`GATEWAY_WORKERS`): one Python process uses one core.

The supervisor does the one-time set-up (migrations, the demo account), starts the built-in
simulator in a process of its own when it is the upstream, then starts the workers. Each worker
is an ordinary gateway node with its own node id (`<node id>-w<i>`, stable across restarts, so a
restarted worker takes back its queued parts at once); they listen on the same HTTP and SMPP
HTTP port with SO_REUSEPORT, and the kernel spreads connections between them; the supervisor
accepts SMPP connections itself and deals them to the workers in turn (`gateway.smpp_handoff`:
a few long-lived binds are not spread by a hash). What crosses
processes goes through the store exactly as between nodes: leases, receipt correlation, the SMPP
outbox. A worker that dies is started again; SIGTERM or SIGINT stops the workers (each drains),
then the simulator.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from types import FrameType

from gateway.config import Settings
from gateway.smpp_handoff import ConnectionDealer
from gateway.store import open_store

log = logging.getLogger(__name__)


def _load_prctl() -> Callable[..., int] | None:
    with contextlib.suppress(OSError, AttributeError):
        return ctypes.CDLL("libc.so.6", use_errno=True).prctl
    return None


# Looked up here, not in the child: between fork and exec only the call itself runs (the
# dealer's accept thread may be alive when a worker is restarted).
_PRCTL = _load_prctl()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the kernel sends the child SIGTERM when the supervisor dies, even by SIGKILL, so
    no worker outlives it holding the ports (PR_SET_PDEATHSIG, prctl(2))."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG


async def _prepare(settings: Settings) -> tuple[str | None, str | None]:
    from gateway.demo_account import ensure_demo_account, ensure_demo_smpp

    store = open_store(
        settings.database_url,
        schema=settings.database_schema,
        sqlite_synchronous=settings.sqlite_synchronous,
    )
    await store.open()
    try:
        await store.migrate()
        if settings.environment == "development" or settings.demo_key is not None:
            key = await ensure_demo_account(store, settings.demo_key)
            password = await ensure_demo_smpp(store, settings.demo_smpp_password)
            return key, password
        return None, None
    finally:
        await store.close()


def _wait_for_port(host: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return True
        time.sleep(0.1)
    return False


class Supervisor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.workers: dict[int, subprocess.Popen[bytes]] = {}
        self.simulator: subprocess.Popen[bytes] | None = None
        self.env: dict[str, str] = {}
        self.stopping = False
        self.dealer: ConnectionDealer | None = None

    def _start_worker(self, index: int) -> None:
        env = {**self.env, "GATEWAY_NODE_ID": f"{self.settings.effective_node_id}-w{index}"}
        if self.settings.worker_ports == "distinct":
            env["GATEWAY_HTTP_PORT"] = str(self.settings.http_port + index)
            env["GATEWAY_SMPP_PORT"] = str(self.settings.smpp_port + index)
        channel = None
        if self.dealer is not None:
            channel = self.dealer.attach(index)
            env["GATEWAY_SMPP_HANDOFF_FD"] = str(channel)
            env["GATEWAY_SMPP_PORT"] = str(self.dealer.port)
        try:
            self.workers[index] = subprocess.Popen(
                [sys.executable, "-m", "gateway", "run"],
                env=env,
                pass_fds=() if channel is None else (channel,),
                # A restart runs while the dealer's accept thread exists: the child runs only
                # the prctl call before exec (see _PRCTL).
                preexec_fn=_die_with_parent,  # noqa: PLW1509
            )
        finally:
            if channel is not None:
                os.close(channel)  # the worker has its copy

    def start(self) -> None:
        import uvloop

        s = self.settings
        key, password = uvloop.run(_prepare(s))
        env = dict(os.environ)
        if s.upstream_config.kind == "simulator":
            simulator_password = secrets.token_hex(4)
            self.simulator = subprocess.Popen(  # noqa: S603 - our interpreter, our arguments
                [
                    sys.executable,
                    "-m",
                    "gateway",
                    "simulate",
                    "--host",
                    s.simulator_host,
                    "--port",
                    str(s.simulator_port),
                    "--password",
                    simulator_password,
                    "--receipt-delay",
                    str(s.simulator_receipt_delay),
                    "--delivered-ratio",
                    str(s.simulator_delivered_ratio),
                ],
                # The supervisor has one thread when it starts children: preexec_fn is safe.
                preexec_fn=_die_with_parent,  # noqa: PLW1509
            )
            if not _wait_for_port(s.simulator_host, s.simulator_port, 15):
                raise RuntimeError("the SMSC simulator did not start")
            env["GATEWAY_UPSTREAM"] = (
                f"smpp://gateway:{simulator_password}@{s.simulator_host}:{s.simulator_port}"
                "?binds=1&window=100"
            )
        # GATEWAY_WORKERS stays the count: each worker shares the limits with the others (a
        # carrier's rate split between them without Redis, their share of it during an outage).
        env.update({"GATEWAY_WORKER": "true", "GATEWAY_WORKERS": str(s.workers)})
        if key is not None and password is not None:
            env.update({"GATEWAY_DEMO_KEY": key, "GATEWAY_DEMO_SMPP_PASSWORD": password})
        self.env = env
        if s.worker_ports == "shared" and s.workers > 1:
            self.dealer = ConnectionDealer(s.smpp_host, s.smpp_port)
        for index in range(s.workers):
            self._start_worker(index)
        if self.dealer is not None:
            self.dealer.start()
        distinct = s.worker_ports == "distinct"
        ports = [
            (s.http_port + i, s.smpp_port + i) if distinct else (s.http_port, s.smpp_port)
            for i in range(s.workers)
        ]
        ready = all(_wait_for_port(s.http_host, http, 30) for http, _ in ports)
        lines = [
            f"gateway ready: {s.workers} workers, REST on http://{s.http_host}:{s.http_port}"
            f" and SMPP on {s.smpp_host}:{s.smpp_port}"
            if ready
            else "workers did not come up"
        ]
        if ready and distinct:
            lines = [
                f"node {i}: REST on http://{s.http_host}:{http} and SMPP on {s.smpp_host}:{smpp}"
                for i, (http, smpp) in enumerate(ports)
            ]
        lines.append(f"store: {s.database_url.split('@')[-1]}")
        if s.redis_url is not None:
            lines.append(f"redis: {s.redis_url.split('@')[-1]}")
        if self.simulator is not None:
            lines.append(
                f"upstream: SMSC simulator process on {s.simulator_host}:{s.simulator_port}"
            )
        if key is not None:
            lines.append(f"demo account API key: {key}")
            lines.append(f"demo SMPP bind: system_id=demo password={password}")
        print("\n".join(lines), flush=True)

    def run(self) -> int:
        """Supervise until a signal; restart workers that die."""

        def on_signal(signum: int, frame: FrameType | None) -> None:
            if self.stopping:  # a second signal: no more waiting
                for proc in self.workers.values():
                    proc.kill()
            self.stopping = True

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        restarts = 0
        while not self.stopping:
            time.sleep(0.5)
            for index, proc in list(self.workers.items()):
                if proc.poll() is not None and not self.stopping:
                    restarts += 1
                    log.error("worker %d exited with %s; starting it again", index, proc.returncode)
                    time.sleep(min(0.5 * restarts, 5.0))
                    self._start_worker(index)
        return self.stop()

    def stop(self) -> int:
        if self.dealer is not None:
            self.dealer.close()  # no new SMPP connections while the workers drain theirs
        for proc in self.workers.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.settings.shutdown_timeout + 10
        for proc in self.workers.values():
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.simulator is not None and self.simulator.poll() is None:
            self.simulator.send_signal(signal.SIGINT)
            try:
                self.simulator.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.simulator.kill()
        failed = [p.returncode for p in self.workers.values() if p.returncode not in (0, None)]
        return 1 if failed else 0


def run_workers(settings: Settings) -> int:
    supervisor = Supervisor(settings)
    try:
        supervisor.start()
    except BaseException:
        supervisor.stop()
        raise
    return supervisor.run()
