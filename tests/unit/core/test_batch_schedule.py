"""A batch's recipients are held to their account's rate_limit by their send time."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.account_policy import AccountPolicy
from gateway.domain import MessageType, NewMessage, NewPart
from gateway.domain.accounts import AccountSettings
from gateway.domain.errors import AccountRateLimited
from gateway.ratelimit.admission import MemoryAdmission


def _message(n: int, *, created_at: float = 1000.0, send_at: float | None = None) -> NewMessage:
    return NewMessage(
        id=f"m{n}", account_id="a", source="Acme", destination="+4915112345678", body="hi",
        encoding="gsm7", message_type=MessageType.PROMOTIONAL, connector="c",
        parts=(NewPart(0, "gsm7", 0, b"", b"hi"),), created_at=created_at, send_at=send_at,
    )  # fmt: skip


def _policy(rate: float) -> AccountPolicy:
    store: Any = None  # every account is loaded: no store read
    policy = AccountPolicy(store=store, admission=MemoryAdmission(clock=lambda: 1000.0))
    policy.set_accounts([AccountSettings(id="a", name="acme", rate_limit=rate)])
    return policy


async def test_past_one_seconds_worth_each_recipient_is_due_when_the_rate_lets_it_go() -> None:
    policy = _policy(rate=4.0)
    admitted = [await policy.admit(_message(n), rate_limited=False) for n in range(7)]
    # Four at once (one second at 4/s), then one every 0.25 s.
    assert [a.message.send_at for a in admitted] == [None] * 4 + [1000.25, 1000.5, 1000.75]
    # A batch scheduled for later starts from its own time, after what is already planned.
    later = await policy.admit(_message(8, send_at=2000.0), rate_limited=False)
    assert later.message.send_at == 2000.0


async def test_a_batch_refused_as_a_whole_gives_its_slots_back() -> None:
    policy = _policy(rate=1.0)
    first = [await policy.admit(_message(n), rate_limited=False) for n in range(3)]
    assert [a.message.send_at for a in first] == [None, 1001.0, 1002.0]
    for admitted in first:
        policy.settle(admitted, committed=False)
    again = await policy.admit(_message(9), rate_limited=False)
    assert again.message.send_at is None


async def test_single_submits_are_refused_over_the_rate_not_scheduled() -> None:
    policy = _policy(rate=1.0)
    assert (await policy.admit(_message(0))).message.send_at is None
    with pytest.raises(AccountRateLimited):
        await policy.admit(_message(1))
