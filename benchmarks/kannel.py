"""Kannel (bearerbox + smsbox, Debian's `kannel` package) for `make bench-kannel`: find or
install it, write a kannel.conf tuned for throughput, run both boxes in the foreground, measure
them, stop them by PID.

The install step is shared with the Kannel interop test (tests/interop/kannel.py calls
`install_kannel` and turns `KannelUnavailableError` into a test failure): benchmarks never
import from tests/, and tests may import from benchmarks/ (the smoke test already does).

What the configuration does for speed, and why (Kannel 1.4.5 user guide, "SMSC configuration"
and "Core configuration"):

- `max-pending-submits` = the window, per bind, as our connector's `window`; `throughput`
  unset (no rate cap); two binds (two `smsc` groups sharing one smsc-id) as ours uses.
- `dlr-storage = internal`: receipts are correlated in bearerbox's memory (no MySQL/Redis).
- Logs at warning level and no access logs: per-message log lines would cost Kannel CPU our
  gateway does not spend (it logs no per-message line at INFO either).
- `store-type = file` only when asked: without it Kannel acknowledges a sendsms while the
  message exists only in bearerbox's memory (a crash loses it). With it, bearerbox appends each
  message to a file, but still answers before that file is fsync'ed, and rewrites ("dumps") the
  whole store every `store-dump-freq` seconds.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks.processes import cpu_seconds, free_port, peak_rss_mib, port_open

SMSC_ID = "sim"
SBIN_DIRS = ("/usr/sbin", "/usr/local/sbin", "/usr/bin")
BOXES = ("bearerbox", "smsbox")


class KannelUnavailableError(RuntimeError):
    """bearerbox/smsbox are not installed and could not be installed."""


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for directory in SBIN_DIRS:
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def find_kannel() -> tuple[str, str] | None:
    """The paths of bearerbox and smsbox, or None when either is missing."""
    bearerbox, smsbox = _binary("bearerbox"), _binary("smsbox")
    return (bearerbox, smsbox) if bearerbox and smsbox else None


def install_kannel() -> tuple[str, str]:
    """bearerbox and smsbox, installing Debian's `kannel` package with apt-get when missing
    (as root; the package lists are refreshed once if the first install fails)."""
    found = find_kannel()
    if found:
        return found
    # Two test processes may both find it missing: one installs, the other waits and finds it.
    with _APT_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _install_kannel()


_APT_LOCK = Path(tempfile.gettempdir()) / "gateway-apt-get.lock"


def _install_kannel() -> tuple[str, str]:
    found = find_kannel()
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt is None:
        raise KannelUnavailableError(
            "Kannel (bearerbox, smsbox) is not installed and apt-get is unavailable: "
            "install the `kannel` package"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    outputs: list[str] = []
    for args in (
        [apt, "install", "-y", "kannel"],
        [apt, "update"],
        [apt, "install", "-y", "kannel"],
    ):
        try:
            done = subprocess.run(
                args, env=env, capture_output=True, text=True, timeout=600, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            outputs.append(f"$ {' '.join(args)}\n{exc}")
            continue
        outputs.append(f"$ {' '.join(args)} (exit {done.returncode})\n{done.stderr[-2000:]}")
        found = find_kannel()
        if found:
            return found
    raise KannelUnavailableError(
        "Kannel (bearerbox, smsbox) is not installed and `apt-get install -y kannel` failed "
        "(run it as root, or install the package by hand):\n" + "\n".join(outputs)
    )


@dataclass(frozen=True)
class BenchConfig:
    """The kannel.conf written for one benchmark run, and what the load generator needs."""

    path: Path
    directory: Path
    admin_port: int
    smsbox_port: int
    sendsms_port: int
    admin_password: str
    username: str
    password: str
    store_file: bool
    text: str

    @property
    def status_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}/status.txt"


def write_config(
    directory: Path,
    *,
    smpp_port: int,
    system_id: str,
    password: str,
    binds: int,
    window: int,
    store_file: bool,
) -> BenchConfig:
    """A kannel.conf with `binds` SMPP transceivers to the simulator at 127.0.0.1:smpp_port,
    one smsbox with a sendsms user, every listener on a free loopback port."""
    directory.mkdir(parents=True, exist_ok=True)
    admin_port, smsbox_port, sendsms_port = free_port(), free_port(), free_port()
    admin_password = "admin-" + os.urandom(6).hex()
    username, user_password = "bench", "send-" + os.urandom(6).hex()
    store = (
        f'store-type = file\nstore-location = "{directory / "kannel.store"}"\nstore-dump-freq = 5\n'
        if store_file
        else "# store-type unset: messages live in bearerbox's memory only\n"
    )
    smsc = f"""\
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
max-pending-submits = {window}
enquire-link-interval = 30
reconnect-delay = 1
# throughput unset: no rate cap. msg-id-type unset: ids kept as the strings SMPP says they
# are (the simulator's are hexadecimal; a numeric msg-id-type would rewrite them).
"""
    text = (
        f"""\
group = core
admin-port = {admin_port}
admin-interface = 127.0.0.1
admin-password = {admin_password}
admin-allow-ip = "127.0.0.1"
smsbox-port = {smsbox_port}
smsbox-interface = 127.0.0.1
box-allow-ip = "127.0.0.1"
dlr-storage = internal
log-file = "{directory / "bearerbox.log"}"
log-level = 2
{store}
"""
        + "\n".join([smsc] * binds)
        + f"""
group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {smsbox_port}
sendsms-port = {sendsms_port}
sendsms-interface = 127.0.0.1
log-file = "{directory / "smsbox.log"}"
log-level = 2

group = sendsms-user
username = {username}
password = {user_password}
max-messages = 1
concatenation = false
user-allow-ip = "127.0.0.1"
"""
    )
    path = directory / "kannel.conf"
    path.write_text(text)
    return BenchConfig(
        path=path,
        directory=directory,
        admin_port=admin_port,
        smsbox_port=smsbox_port,
        sendsms_port=sendsms_port,
        admin_password=admin_password,
        username=username,
        password=user_password,
        store_file=store_file,
        text=text,
    )


@dataclass
class KannelProcesses:
    """bearerbox and smsbox on `config`, in the foreground, each stopped by its own PID."""

    config: BenchConfig
    bearerbox_path: str
    smsbox_path: str
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, *, binds: int, timeout: float = 30.0) -> None:
        """bearerbox, then smsbox; returns when `binds` SMPP binds are online and sendsms
        answers, or raises with the logs."""
        deadline = time.monotonic() + timeout
        self._spawn("bearerbox", self.bearerbox_path)
        while self.status() is None:
            self._wait_step(deadline, "bearerbox admin page")
        self._spawn("smsbox", self.smsbox_path)
        while self._online(self.status()) < binds:
            self._wait_step(deadline, f"{binds} SMPP bind(s) online")
        while not port_open("127.0.0.1", self.config.sendsms_port):
            self._wait_step(deadline, "smsbox sendsms port")

    def _spawn(self, name: str, binary: str) -> None:
        with (self.config.directory / f"{name}.stderr").open("ab") as out:
            # -v 2: warnings and worse on stderr. Never --daemonize: we stop the PID we started.
            self.processes[name] = subprocess.Popen(
                [binary, "-v", "2", str(self.config.path)],
                cwd=self.config.directory,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _wait_step(self, deadline: float, what: str) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                raise RuntimeError(
                    f"Kannel {name} exited with {proc.returncode} while waiting for {what}\n"
                    + self.diagnostics()
                )
        if time.monotonic() > deadline:
            raise RuntimeError(f"Kannel: no {what} in time\n" + self.diagnostics())
        time.sleep(0.2)

    def status(self) -> str | None:
        try:
            response = httpx.get(
                self.config.status_url, params={"password": self.config.admin_password}, timeout=2
            )
        except httpx.HTTPError:
            return None
        return response.text if response.status_code == 200 else None

    @staticmethod
    def _online(status: str | None) -> int:
        if status is None:
            return 0
        lines = re.findall(rf"^\s*{SMSC_ID}(?:\[[^\]]*\])?\s.*$", status, re.MULTILINE)
        return sum("(online" in line for line in lines)

    def pids(self) -> list[int]:
        return [self.processes[name].pid for name in BOXES if name in self.processes]

    def cpu_seconds(self) -> float:
        """bearerbox + smsbox CPU seconds so far."""
        return sum(cpu_seconds(pid) for pid in self.pids())

    def peak_rss_mib(self) -> float:
        """bearerbox + smsbox peak resident memory (VmHWM), summed."""
        return sum(peak_rss_mib(pid) for pid in self.pids())

    def alive(self) -> bool:
        return bool(self.processes) and all(p.poll() is None for p in self.processes.values())

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM smsbox, then bearerbox; SIGKILL what is still running at the deadline."""
        for name in ("smsbox", "bearerbox"):
            proc = self.processes.get(name)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)

    def log(self, name: str) -> str:
        path = self.config.directory / name
        return path.read_text(errors="replace") if path.exists() else ""

    def diagnostics(self, tail: int = 30) -> str:
        parts = [f"Kannel files in {self.config.directory}"]
        for name in ("bearerbox.stderr", "smsbox.stderr", "bearerbox.log", "smsbox.log"):
            lines = self.log(name).splitlines()[-tail:]
            parts.append(f"--- {name} (last {len(lines)} lines) ---\n" + "\n".join(lines))
        return "\n".join(parts)
