"""Memory a password check takes goes back to the system (gateway.malloc_tuning).

Each case runs in a fresh interpreter: the mmap threshold is process-wide and cannot be put
back, and the growth it prevents only shows in a process that has not checked a password yet.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gateway.malloc_tuning import map_large_blocks

# Six threads (the default executor's size on two cores) each check a password twice, as 32
# clients starting at once with one API key did; then the resident set is read.
_PROBE = """
import json, sys, threading
from gateway.malloc_tuning import map_large_blocks
from gateway.passwords import hash_password, verify_password

def rss_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

tuned = map_large_blocks() if sys.argv[1] == "tuned" else None
stored = hash_password("secret")
before = rss_mib()
for _ in range(2):
    threads = [threading.Thread(target=verify_password, args=("secret", stored)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
print(json.dumps({"tuned": tuned, "growth": rss_mib() - before}))
"""


def _growth(mode: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, timeout=60, check=True
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc: Linux only")
def test_password_checks_in_threads_give_their_memory_back() -> None:
    tuned = _growth("tuned")
    untuned = _growth("untuned")
    assert tuned["tuned"] is True
    assert isinstance(tuned["growth"], float) and isinstance(untuned["growth"], float)
    # Without the setting each thread keeps its 16 MiB in its arena: the probe measures the
    # problem, and the setting removes it.
    assert untuned["growth"] > 48
    assert tuned["growth"] < 16


def test_the_setting_can_be_applied_again() -> None:
    first = map_large_blocks()
    assert map_large_blocks() is first
