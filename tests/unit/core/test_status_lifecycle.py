from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.domain import Status, aggregate_status, can_transition
from gateway.domain.status import TERMINAL

ALL = list(Status)


@pytest.mark.parametrize(("current", "new"), list(itertools.product(ALL, ALL)))
def test_terminal_statuses_never_change(current: Status, new: Status) -> None:
    if current in TERMINAL:
        assert not can_transition(current, new)


def test_forward_path_is_allowed_and_backwards_is_not() -> None:
    path = [Status.ACCEPTED, Status.SCHEDULED, Status.QUEUED, Status.SUBMITTED, Status.DELIVERED]
    for a, b in itertools.pairwise(path):
        assert can_transition(a, b)
        assert not can_transition(b, a)


def test_cancel_only_before_submission() -> None:
    assert can_transition(Status.QUEUED, Status.CANCELLED)
    assert can_transition(Status.SCHEDULED, Status.CANCELLED)
    assert not can_transition(Status.SUBMITTED, Status.CANCELLED)


def test_late_receipt_does_not_overwrite_delivered() -> None:
    assert not can_transition(Status.DELIVERED, Status.UNDELIVERED)
    assert not can_transition(Status.DELIVERED, Status.SUBMITTED)


def test_multipart_aggregation_policy() -> None:
    d, s, u, r = Status.DELIVERED, Status.SUBMITTED, Status.UNDELIVERED, Status.REJECTED
    assert aggregate_status([d, d, d]) is d
    assert aggregate_status([d, s, d]) is s  # unfinished parts keep it open
    assert aggregate_status([d, u, d]) is u
    assert aggregate_status([u, r]) is r  # the most telling failure wins
    assert aggregate_status([Status.QUEUED, s]) is Status.QUEUED


@given(st.lists(st.sampled_from(ALL), min_size=1, max_size=8))
def test_aggregate_is_terminal_only_when_every_part_is(parts: list[Status]) -> None:
    result = aggregate_status(parts)
    assert result.terminal == all(p.terminal for p in parts)
    assert (result is Status.DELIVERED) == all(p is Status.DELIVERED for p in parts)
