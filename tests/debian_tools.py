"""Command-line checkers from Debian's packages (promtool, haproxy), for tests that validate
deploy/ files with the real tools.

A tool on PATH is used as it is. Otherwise its packages are fetched with `apt-get download` and
unpacked with `dpkg-deb -x` into a cache beside the virtualenv: nothing is installed into the
system and no daemon is started (installing `prometheus` or `haproxy` would start one). A tool
that cannot be had fails the test loudly; it never skips.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".venv" / "debian-tools"


def _unpacked(binary: str) -> Path | None:
    for folder in ("usr/bin", "usr/sbin", "bin", "sbin"):
        candidate = CACHE / folder / binary
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def tool_env() -> dict[str, str]:
    """The environment to run an unpacked tool in: its packages' shared libraries first."""
    libs = [str(p) for p in (CACHE / "usr/lib/x86_64-linux-gnu", CACHE / "usr/lib") if p.is_dir()]
    env = dict(os.environ)
    if libs:
        env["LD_LIBRARY_PATH"] = os.pathsep.join([*libs, env.get("LD_LIBRARY_PATH", "")])
    return env


def ensure_tool(binary: str, packages: list[str]) -> str:
    """The path of `binary`, unpacking `packages` (the first holds it, the rest are the shared
    libraries it needs that the machine may lack) when it is not on PATH."""
    found = shutil.which(binary) or _unpacked(binary)
    if found:
        return str(found)
    # Two test processes may both find it missing: one unpacks, the other waits and finds it.
    with (Path(tempfile.gettempdir()) / "gateway-apt-get.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _download_and_unpack(binary, packages)


def _download_and_unpack(binary: str, packages: list[str]) -> str:
    found = _unpacked(binary)
    if found:
        return str(found)
    apt, dpkg = shutil.which("apt-get"), shutil.which("dpkg-deb")
    if apt is None or dpkg is None:
        pytest.fail(f"{binary} is not installed and apt-get/dpkg-deb are missing", pytrace=False)
    log: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        # The package lists may be stale on a fresh machine: on failure, one update and a retry.
        for args in ([apt, "download", *packages], [apt, "update"], [apt, "download", *packages]):
            done = subprocess.run(
                args, cwd=tmp, capture_output=True, text=True, timeout=600, check=False
            )
            log.append(f"$ {' '.join(args)} (exit {done.returncode})\n{done.stderr[-1500:]}")
            debs = sorted(Path(tmp).glob("*.deb"))
            if args[1] == "download" and done.returncode == 0 and debs:
                CACHE.mkdir(parents=True, exist_ok=True)
                for deb in debs:
                    subprocess.run([dpkg, "-x", str(deb), str(CACHE)], check=True, timeout=120)
                break
    found = _unpacked(binary)
    if found is None:
        pytest.fail(
            f"{binary} is not installed and could not be unpacked from {packages}:\n"
            + "\n".join(log),
            pytrace=False,
        )
    return str(found)
