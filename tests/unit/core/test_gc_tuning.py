"""The collector settings a gateway or simulator process takes once started (gateway.gc_tuning).

Run in a child interpreter: freezing the test runner's own heap would change every later test."""

from __future__ import annotations

import subprocess
import sys

CHILD = """
import gc
from gateway.gc_tuning import YOUNG_THRESHOLD, tune_for_service

before = gc.get_threshold()
kept = [object() for _ in range(3)]
tune_for_service()
young, middle, old = gc.get_threshold()
assert young == YOUNG_THRESHOLD, young
assert (middle, old) == before[1:], (before, middle, old)
frozen = gc.get_freeze_count()
assert frozen > 1_000, frozen  # the imports' objects, at least
# Garbage made after start-up is still collected: a cycle created now is found.
class Node:
    pass
a, b = Node(), Node()
a.other, b.other = b, a
del a, b
assert gc.collect() >= 2
print("ok", frozen)
"""


def test_startup_heap_is_frozen_and_young_threshold_raised() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok ")
