"""Run real gateway and simulator processes on free loopback ports, and stop only those."""

from __future__ import annotations

import os
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
    def __init__(self, tmp: Path, *, database_url: str, **env: str) -> None:
        self.http_port = free_port()
        self.key = "gw_test_" + os.urandom(12).hex()
        base = {
            "GATEWAY_DATABASE_URL": database_url,
            "GATEWAY_HTTP_PORT": str(self.http_port),
            "GATEWAY_SIMULATOR_PORT": str(free_port()),
            "GATEWAY_SMPP_PORT": str(free_port()),
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
