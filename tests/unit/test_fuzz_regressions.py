"""The fuzz targets in make test: every committed crash input (tests/fuzz/corpus/) replays
cleanly, and a short deterministic mutational run of each target finds nothing. The long run
is `make fuzz` (a million cases per target)."""

from __future__ import annotations

import time

import pytest

from tests.fuzz.engine import corpus, run
from tests.fuzz.targets import TARGETS, seeds

pytestmark = pytest.mark.serial  # timed: make test runs it alone, after the rest

# Cases per target here: tens of thousands in all, a few seconds each.
SHORT_RUN = {"decoder": 30_000, "session": 20_000, "text": 20_000}


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_seeds_and_crash_corpus_replay_cleanly(target: str) -> None:
    inputs = [*seeds(target), *corpus(target)]
    assert inputs
    for data in inputs:
        TARGETS[target](data)


def test_corpus_holds_the_crashes_found_so_far() -> None:
    # Replies the session offered and then refused to send (see test_smpp_session_guards):
    # an unbind before bind, and a malformed unbind while bound.
    assert bytes.fromhex("0000000f") in corpus("session")
    assert bytes.fromhex("03003dd28168260300040332") in corpus("session")


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_short_fuzz_run_finds_nothing(target: str) -> None:
    start = time.monotonic()
    result = run(target, SHORT_RUN[target], seed=20261207, deadline=start + 25)
    assert result.cases >= SHORT_RUN[target] // 4, result.cases  # not cut short by much
    assert not result.crashes, "\n".join(
        f"{c.key}: {c.error} input={c.data.hex()}" for c in result.crashes.values()
    )
