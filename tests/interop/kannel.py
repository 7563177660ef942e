"""Kannel (bearerbox + smsbox) as an independent ESME: install it, configure it, run it, stop it.

Kannel is the most widely deployed open-source SMS gateway; pointing it at our SMPP server is
what an aggregator's customer does on day one. Everything here is plain plumbing around Debian's
`kannel` package: a kannel.conf in a temporary directory, two foreground processes on free
loopback ports with their logs in that directory, and a stop by PID.

Waits are asyncio waits: the gateway under test runs in the test's own event loop, so blocking
the loop while Kannel binds would starve the very server Kannel is binding to.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from benchmarks.kannel import KannelUnavailableError, install_kannel

SMSC_ID = "smsgw"

# Kannel log lines that mean a delivery receipt could not be matched to a message it sent
# (gw/smsc/smsc_smpp.c handle_dlr, gw/dlr.c dlr_find), or that a receipt was malformed.
DLR_TROUBLE = re.compile(
    r"could not find|not interested|not found|unable to find|unknown 'message_state'"
    r"|Couldnot parse DLR|got DLR but",
    re.IGNORECASE,
)
# Kannel's log line levels: "2024-01-01 12:00:00 [pid] [thread] WARNING: ...".
PROBLEM_LINE = re.compile(r"\] (WARNING|ERROR|PANIC):")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_kannel() -> tuple[str, str]:
    """The paths of bearerbox and smsbox, installing Debian's `kannel` package if they are missing
    (benchmarks/kannel.py, shared with `make bench-kannel`).

    Fails the test (never skips it) when Kannel is absent and cannot be installed: an interop
    test that silently disappears is worse than one that is red.
    """
    try:
        return install_kannel()
    except KannelUnavailableError as exc:
        pytest.fail(f"{exc}\n(needed by the Kannel interop test)", pytrace=False)


@dataclass(frozen=True)
class KannelConfig:
    """What the test needs to know about the kannel.conf it wrote."""

    path: Path
    directory: Path
    admin_port: int
    smsbox_port: int
    sendsms_port: int
    admin_password: str
    sendsms_username: str
    sendsms_password: str

    @property
    def sendsms_url(self) -> str:
        return f"http://127.0.0.1:{self.sendsms_port}/cgi-bin/sendsms"

    @property
    def status_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}/status.txt"


def write_config(
    directory: Path,
    *,
    smpp_port: int,
    system_id: str,
    password: str,
    max_pending_submits: int = 10,
    enquire_link_interval: int = 30,
) -> KannelConfig:
    """A kannel.conf for one SMPP transceiver to 127.0.0.1:smpp_port, an smsbox and a
    sendsms user, every listener on a free loopback port, every log in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    config = KannelConfig(
        path=directory / "kannel.conf",
        directory=directory,
        admin_port=free_port(),
        smsbox_port=free_port(),
        sendsms_port=free_port(),
        admin_password="admin-" + os.urandom(6).hex(),
        sendsms_username="tester",
        sendsms_password="send-" + os.urandom(6).hex(),
    )
    text = f"""\
group = core
admin-port = {config.admin_port}
admin-interface = 127.0.0.1
admin-password = {config.admin_password}
admin-allow-ip = "127.0.0.1"
smsbox-port = {config.smsbox_port}
smsbox-interface = 127.0.0.1
box-allow-ip = "127.0.0.1"
dlr-storage = internal
log-file = "{directory / "bearerbox.log"}"
log-level = 0
access-log = "{directory / "access.log"}"

group = smsc
smsc = smpp
smsc-id = {SMSC_ID}
host = 127.0.0.1
port = {smpp_port}
transceiver-mode = true
smsc-username = "{system_id}"
smsc-password = "{password}"
system-type = ""
interface-version = 34
enquire-link-interval = {enquire_link_interval}
max-pending-submits = {max_pending_submits}
reconnect-delay = 1
# msg-id-type is deliberately absent. Its values 0-3 make Kannel rewrite every message id as a
# decimal or hexadecimal number (strtoll) before storing or matching it, which would mangle our
# Crockford base32 ids ("01M89Q4NC5MTKNVBREYCMQRPVA", "...-2" for a part). Left unset, Kannel
# keeps ids as the C-octet strings SMPP 3.4 says they are (smsc_smpp.c: "defaults to C string
# as-is style") for submit_sm_resp, the receipted_message_id TLV and the receipt's "id:" alike.

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {config.smsbox_port}
sendsms-port = {config.sendsms_port}
sendsms-interface = 127.0.0.1
log-file = "{directory / "smsbox.log"}"
log-level = 0
access-log = "{directory / "smsbox-access.log"}"

group = sendsms-user
username = {config.sendsms_username}
password = {config.sendsms_password}
concatenation = true
max-messages = 5
user-allow-ip = "127.0.0.1"
"""
    config.path.write_text(text)
    return config


@dataclass
class Kannel:
    """bearerbox and smsbox running on `config`, in the foreground, stopped by PID."""

    config: KannelConfig
    bearerbox_path: str
    smsbox_path: str
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def _spawn(self, name: str, binary: str) -> None:
        with (self.config.directory / f"{name}.stderr").open("ab") as stderr:
            # -v 1: info and worse on stderr; the log file in kannel.conf keeps the debug detail
            # (PDU dumps) for evidence. Never --daemonize: we stop exactly the PID we started.
            self.processes[name] = subprocess.Popen(
                [binary, "-v", "1", str(self.config.path)],
                cwd=self.config.directory,
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=subprocess.STDOUT,
            )

    async def start(self, *, timeout: float = 30) -> None:
        """Start bearerbox, wait for its admin page, start smsbox, wait until the SMSC link
        is online and sendsms answers. Fails with the logs when any of it does not happen."""
        deadline = time.monotonic() + timeout
        self._spawn("bearerbox", self.bearerbox_path)
        await self._wait(lambda status: status is not None, deadline, "bearerbox admin page")
        self._spawn("smsbox", self.smsbox_path)
        await self._wait(self._smsc_online, deadline, f"SMSC {SMSC_ID!r} online")
        await self._wait_port(self.config.sendsms_port, deadline, "smsbox sendsms port")

    def _smsc_online(self, status: str | None) -> bool:
        if status is None:
            return False
        # "    smsgw[smsgw]    SMPP:127.0.0.1:2775/2775:demo: (online 3s, rcvd: ...)"
        match = re.search(rf"^\s*{re.escape(SMSC_ID)}(\[[^\]]*\])?\s.*$", status, re.MULTILINE)
        return match is not None and "(online" in match.group(0)

    async def status(self) -> str | None:
        """Kannel's admin status page as text, or None when bearerbox does not answer."""
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                response = await client.get(
                    self.config.status_url, params={"password": self.config.admin_password}
                )
        except httpx.HTTPError:
            return None
        return response.text if response.status_code == 200 else None

    def _check_alive(self, what: str) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                pytest.fail(
                    f"Kannel {name} exited with {proc.returncode} while waiting for {what}\n"
                    + self.diagnostics(),
                    pytrace=False,
                )

    async def _wait(self, ready: Callable[[str | None], bool], deadline: float, what: str) -> None:
        status: str | None = None
        while time.monotonic() < deadline:
            self._check_alive(what)
            status = await self.status()
            if ready(status):
                return
            await asyncio.sleep(0.2)
        pytest.fail(
            f"Kannel: no {what} in time; last status page:\n{status}\n" + self.diagnostics(),
            pytrace=False,
        )

    async def _wait_port(self, port: int, deadline: float, what: str) -> None:
        while time.monotonic() < deadline:
            self._check_alive(what)
            try:
                _, writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", port), timeout=1
                )
            except (OSError, TimeoutError):
                await asyncio.sleep(0.2)
                continue
            writer.close()
            await writer.wait_closed()
            return
        pytest.fail(f"Kannel: no {what} in time\n" + self.diagnostics(), pytrace=False)

    async def stop(self, *, timeout: float = 10) -> None:
        """SIGTERM smsbox, then bearerbox (which unbinds from our server), each by its PID;
        SIGKILL whatever is still running at the deadline."""
        for name in ("smsbox", "bearerbox"):
            proc = self.processes.get(name)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while proc.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            if proc.poll() is None:
                proc.kill()
                await asyncio.to_thread(proc.wait, 5)

    def kill(self) -> None:
        """The synchronous last resort, for a cleanup that has no event loop left."""
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=5)

    def log(self, name: str) -> str:
        path = self.config.directory / name
        return path.read_text(errors="replace") if path.exists() else ""

    def problem_lines(self) -> list[str]:
        """Every WARNING, ERROR and PANIC line either box logged."""
        lines: list[str] = []
        for name in ("bearerbox.log", "smsbox.log", "bearerbox.stderr", "smsbox.stderr"):
            lines += [
                f"{name}: {line}"
                for line in self.log(name).splitlines()
                if PROBLEM_LINE.search(line)
            ]
        return lines

    def dlr_trouble(self) -> list[str]:
        """Log lines saying a delivery receipt could not be correlated or parsed."""
        lines: list[str] = []
        for name in ("bearerbox.log", "smsbox.log"):
            lines += [
                f"{name}: {line}"
                for line in self.log(name).splitlines()
                if DLR_TROUBLE.search(line)
            ]
        return lines

    def diagnostics(self, tail: int = 60) -> str:
        parts = [f"Kannel files in {self.config.directory}"]
        for name in ("bearerbox.stderr", "smsbox.stderr", "bearerbox.log", "smsbox.log"):
            lines = self.log(name).splitlines()[-tail:]
            parts.append(f"--- {name} (last {len(lines)} lines) ---\n" + "\n".join(lines))
        return "\n".join(parts)
