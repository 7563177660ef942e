"""Priority lanes: OTP goes first, and no class of traffic starves behind another."""

from __future__ import annotations

import asyncio

from gateway.domain import MessageType, PartRecord
from gateway.lanes import LANE_PATIENCE, Lanes


def _part(kind: MessageType, n: int) -> PartRecord:
    return PartRecord(
        message_id=f"{kind.value}-{n}",
        seq=1,
        total=1,
        account_id="a",
        source="Acme",
        destination="+4915112345678",
        encoding="gsm7",
        data_coding=0,
        udh=b"",
        payload=b"x",
        connector="c",
        priority=kind.priority,
        registered_delivery=False,
        attempts=0,
    )


async def _drain(lanes: Lanes, count: int) -> list[str]:
    return [(await lanes.get()).message_id.split("-")[0] for _ in range(count)]


async def test_otp_goes_ahead_of_a_promotional_backlog() -> None:
    lanes = Lanes()
    for n in range(1000):
        lanes.put(_part(MessageType.PROMOTIONAL, n))
    for n in range(10):
        lanes.put(_part(MessageType.OTP, n))
    served = await _drain(lanes, 10)
    # Every OTP is served within its first 10 turns, the promotional backlog notwithstanding.
    assert served.count("otp") == 10


async def test_promotional_is_served_while_a_flood_of_otp_keeps_coming() -> None:
    lanes = Lanes()
    for n in range(5):
        lanes.put(_part(MessageType.PROMOTIONAL, n))
    served: list[str] = []
    for n in range(200):
        lanes.put(_part(MessageType.OTP, n))  # the OTP lane never empties
        served += await _drain(lanes, 1)
    patience = LANE_PATIENCE[MessageType.PROMOTIONAL.priority]
    assert served.count("promotional") == 5
    # A promotional part waits at most `patience` OTP turns, and OTP keeps most of the turns.
    first = served.index("promotional")
    assert first <= patience
    assert served[: 5 * (patience + 1)].count("promotional") == 5


async def test_every_lane_gets_turns_under_load_in_priority_proportion() -> None:
    lanes = Lanes()
    for n in range(300):
        for kind in MessageType:
            lanes.put(_part(kind, n))
    served = await _drain(lanes, 300)
    otp, transactional, promotional = (served.count(k.value) for k in MessageType)
    assert otp > transactional > promotional > 0


async def test_get_waits_for_a_part() -> None:
    lanes = Lanes()
    waiter = asyncio.ensure_future(lanes.get())
    await asyncio.sleep(0.01)
    assert not waiter.done()
    lanes.put(_part(MessageType.TRANSACTIONAL, 1))
    assert (await asyncio.wait_for(waiter, 1)).message_id == "transactional-1"
    assert lanes.size == 0
