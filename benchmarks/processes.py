"""Processes the benchmarks start (gateway, simulator, uvicorn baseline) and what they cost.

Every process is started here and stopped here by its own PID: SIGTERM, a bounded wait, then
SIGKILL. CPU time and peak memory come from /proc (utime + stime in /proc/PID/stat, VmHWM in
/proc/PID/status), so nothing beyond the standard library is needed; all threads of a process
(the SQLite writer, the event loop) are counted together.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from benchmarks.report import ROOT

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port free now and not handed out before by this process: the kernel may
    offer a port it just released again, and one gateway takes several (HTTP, SMPP, simulator)
    before it binds any."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (all its threads)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may hold spaces: split after its closing parenthesis.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime, stime (fields 14, 15)


def children(pid: int) -> list[int]:
    """The live child processes of `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _status_mib(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mib(pid: int) -> float:
    """Peak resident set size (VmHWM) of process `pid`, in MiB."""
    return _status_mib(pid, "VmHWM:")


def rss_mib(pid: int) -> float:
    """Current resident set size (VmRSS) of process `pid`, in MiB."""
    return _status_mib(pid, "VmRSS:")


def reset_peak_rss(pid: int) -> bool:
    """Restart VmHWM at the current RSS (writing 5 to /proc/PID/clear_refs, Linux 4.0+), so a
    later `peak_rss_mib` covers what happens from now on; False when the kernel refuses."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class ManagedProcess:
    """A child process with its output in a log file; a context manager that always stops it."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} not started"
        return self.proc.pid

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, *self.args],
                cwd=ROOT,
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C on the benchmark reaches us, not the child
            )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def cpu_seconds(self) -> float:
        """This process's CPU and its live children's (a supervisor's workers)."""
        total = cpu_seconds(self.pid)
        for child in children(self.pid):
            with contextlib.suppress(OSError):
                total += cpu_seconds(child)
        return total

    def peak_rss_mib(self) -> float:
        return peak_rss_mib(self.pid)

    def reset_peak_rss(self) -> bool:
        return reset_peak_rss(self.pid)

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM, wait up to `timeout`, then SIGKILL; returns the exit code."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
        return proc.returncode

    def output_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_port(self, host: str, port: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited early:\n{self.output_tail()}")
            if port_open(host, port):
                return
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not listening on {host}:{port} in {timeout}s")

    def __enter__(self) -> ManagedProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class SimulatorProcess(ManagedProcess):
    """`python -m gateway simulate` alone: the upstream SMSC in its own process."""

    def __init__(self, log_dir: Path, *, receipt_delay: float = 0.05, latency: float = 0.0) -> None:
        self.port = free_port()
        self.system_id = "gateway"
        self.password = "secret"  # the simulator's development default
        super().__init__(
            f"simulator-{self.port}",
            [
                "-m",
                "gateway",
                "simulate",
                "--port",
                str(self.port),
                "--password",
                self.password,
                "--receipt-delay",
                str(receipt_delay),
                "--latency",  # before each submit_sm_resp: the carrier's round trip
                str(latency),
            ],
            {},
            log_dir,
        )

    def upstream_url(self, *, binds: int, window: int) -> str:
        return (
            f"smpp://{self.system_id}:{self.password}@127.0.0.1:{self.port}"
            f"?binds={binds}&window={window}"
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        self.wait_port("127.0.0.1", self.port, timeout)


class GatewayProcess(ManagedProcess):
    """`python -m gateway run` on free loopback ports with its own store."""

    def __init__(self, log_dir: Path, *, database_url: str, **env: str) -> None:
        self.http_port = free_port()
        self.smpp_port = free_port()
        self.key = "gw_bench_" + os.urandom(12).hex()
        base = {
            "GATEWAY_DATABASE_URL": database_url,
            "GATEWAY_HTTP_PORT": str(self.http_port),
            "GATEWAY_SIMULATOR_PORT": str(free_port()),
            "GATEWAY_SMPP_PORT": str(self.smpp_port),
            "GATEWAY_DEMO_KEY": self.key,
            "GATEWAY_NODE_ID": f"bench-{self.http_port}",
            "GATEWAY_LOG_LEVEL": "INFO",
        }
        base.update(env)
        super().__init__(f"gateway-{self.http_port}", ["-m", "gateway", "run"], base, log_dir)
        self.url = f"http://127.0.0.1:{self.http_port}"

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Until /readyz answers 200 with every upstream bind bound, from every worker (each
        request a new connection, which the kernel gives to any of them)."""
        deadline = time.monotonic() + timeout
        body: object = None
        workers = int(self.env.get("GATEWAY_WORKERS", "1"))
        ready: set[object] = set()
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"gateway exited early:\n{self.output_tail()}")
            with contextlib.suppress(httpx.HTTPError, ValueError):
                response = httpx.get(self.url + "/readyz", timeout=1)
                body = response.json()
                if response.status_code == 200 and _all_bound(body):
                    ready.add(body.get("node") if isinstance(body, dict) else None)
                    if len(ready) >= workers:
                        return
                    continue
            time.sleep(0.1)
        raise RuntimeError(
            f"gateway not ready in {timeout}s (last /readyz: {body}):\n{self.output_tail()}"
        )


def _all_bound(body: object) -> bool:
    if not isinstance(body, dict):
        return False
    upstreams = body.get("upstreams") or {}
    binds = [b for group in upstreams.values() for b in group]
    return bool(binds) and all(b.get("state") == "bound" for b in binds)


class UvicornBaseline(ManagedProcess):
    """The baseline app under uvicorn with the gateway's HTTP settings: uvloop, httptools, one
    process, no access log, no server header, no lifespan."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        super().__init__(
            f"uvicorn-baseline-{self.port}",
            [
                "-m",
                "uvicorn",
                "benchmarks.baseline_app:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--lifespan",
                "off",
                "--no-access-log",
                "--no-server-header",
                "--log-level",
                "warning",
            ],
            {},
            log_dir,
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        self.wait_port("127.0.0.1", self.port, timeout)


class BareSmscProcess(ManagedProcess):
    """`python -m benchmarks.bare_smsc`: SMPP answered from the header alone, the TCP floor."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        super().__init__(
            f"bare-smsc-{self.port}",
            ["-m", "benchmarks.bare_smsc", "--port", str(self.port)],
            {},
            log_dir,
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        self.wait_port("127.0.0.1", self.port, timeout)
