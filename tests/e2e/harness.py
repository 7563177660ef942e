"""Run real gateway and simulator processes on free loopback ports, and stop only those."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# Below Linux's default ephemeral range (32768-60999): no outgoing connection takes its source
# port from here, so ports found free stay free for listeners started a moment later.
_FIXED_PORTS = range(20_000, 32_000)


def free_port_run(count: int, *, avoid: range = range(0)) -> int:
    """The first of `count` consecutive free loopback ports, outside the ephemeral range and
    `avoid`: for workers listening on a base port plus their index (the port after a
    bind(0) port may be any connection's source port, and was: the second worker could not
    listen for 30 s)."""
    rng = random.Random()
    for _ in range(1000):
        first = rng.randrange(_FIXED_PORTS.start, _FIXED_PORTS.stop - count)
        if first in avoid or first + count - 1 in avoid:
            continue
        with contextlib.ExitStack() as held:
            try:
                for port in range(first, first + count):
                    held.enter_context(socket.socket()).bind(("127.0.0.1", port))
            except OSError:
                continue
        return first
    raise RuntimeError(f"no {count} consecutive free ports found")


class Process:
    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.args = args
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", *self.args],
            cwd=ROOT,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        """SIGKILL: no chance to clean up, as in a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 20) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        return self.proc.returncode

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


class GatewayProcess(Process):
    def __init__(
        self, tmp: Path, *, database_url: str, consecutive_ports: int = 1, **env: str
    ) -> None:
        """`consecutive_ports`: the HTTP and SMPP ports are each the first of that many free
        ones (GATEWAY_WORKER_PORTS=distinct: worker i listens on each port plus i)."""
        if consecutive_ports > 1:
            self.http_port = free_port_run(consecutive_ports)
            http_run = range(self.http_port - consecutive_ports, self.http_port + consecutive_ports)
            smpp_port = free_port_run(consecutive_ports, avoid=http_run)
        else:
            self.http_port, smpp_port = free_port(), free_port()
        self.key = "gw_test_" + os.urandom(12).hex()
        base = {
            "GATEWAY_DATABASE_URL": database_url,
            "GATEWAY_HTTP_PORT": str(self.http_port),
            "GATEWAY_SIMULATOR_PORT": str(free_port()),
            "GATEWAY_SMPP_PORT": str(smpp_port),
            "GATEWAY_DEMO_KEY": self.key,
            "GATEWAY_NODE_ID": f"e2e-{self.http_port}",
            "GATEWAY_LOG_LEVEL": "INFO",
        }
        base.update(env)
        super().__init__(["run"], base, tmp / f"gateway-{self.http_port}.log")
        self.url = f"http://127.0.0.1:{self.http_port}"

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=10
        )

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"gateway exited early:\n{self.output()}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"gateway not ready in {timeout}s:\n{self.output()}")


def wait_for_status(
    client: httpx.Client, message_id: str, wanted: str, timeout: float = 10
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = client.get(f"/v1/messages/{message_id}")
        assert response.status_code == 200, response.text
        body = response.json()
        if body["status"] == wanted:
            return body
        time.sleep(0.05)
    raise AssertionError(f"message {message_id} stuck at {body.get('status')}: {body}")
