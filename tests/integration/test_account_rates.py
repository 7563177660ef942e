"""Per-account sending rates: an account over its rate waits without holding back the others."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import Gateway
from gateway.config import load_settings
from gateway.domain import ConfigError, PartRecord, new_id
from gateway.keys import KeyAuthenticator
from gateway.pacing import AccountPacer
from gateway.ratelimit import MemoryRateLimiter
from gateway.simulator import Simulator, SimulatorConfig
from tests.conftest import DEMO_KEY

RATE = 20.0  # segments/s for the demo account


async def _submit(api: httpx.AsyncClient, key: str, count: int) -> list[str]:
    async def one(i: int) -> str:
        response = await api.post(
            "/v1/messages",
            json={"to": "+4915112345678", "from": "Acme", "text": f"m{i}"},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def _submitted_at(api: httpx.AsyncClient, key: str, ids: list[str]) -> list[float]:
    """When each message's part was accepted by the carrier, once all were (bounded wait)."""
    deadline = time.monotonic() + 15
    while True:
        times = []
        for message_id in ids:
            view = (
                await api.get(
                    f"/v1/messages/{message_id}", headers={"Authorization": f"Bearer {key}"}
                )
            ).json()
            times.append(view["parts"][0]["submitted_at"])
        if None not in times:
            return sorted(times)
        assert time.monotonic() < deadline, f"not every message was submitted: {times}"
        await asyncio.sleep(0.1)


async def _start(tmp_path: Path, node_id: str, **settings: Any) -> tuple[Simulator, Gateway]:
    """A gateway on SQLite and the simulator in this process as its upstream, both started."""
    simulator = Simulator(SimulatorConfig(port=0, password="secret", receipt_delay=0.01))
    await simulator.start()
    gateway = Gateway(
        load_settings(
            database_url=f"sqlite:///{tmp_path}/gw.db",
            http_port=0,
            smpp_port=0,
            demo_key=DEMO_KEY,
            node_id=node_id,
            upstream=f"smpp://gateway:secret@127.0.0.1:{simulator.port}?window=50",
            **settings,
        )
    )
    await gateway.start()
    return simulator, gateway


@pytest.mark.serial  # timed: make test runs it alone, after the rest
async def test_an_account_over_its_rate_is_paced_and_others_go_at_once(tmp_path: Path) -> None:
    simulator, gateway = await _start(tmp_path, "rates", account_rates={"demo": RATE})
    try:
        assert gateway.store is not None
        other = await gateway.store.create_account(account_id=new_id(), name="other", now=0)
        other_key = await KeyAuthenticator(store=gateway.store).create_key(account_id=other.id)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.http_port}") as api:
            paced_ids = await _submit(api, DEMO_KEY, 40)
            free_ids = await _submit(api, other_key, 40)
            paced = await _submitted_at(api, DEMO_KEY, paced_ids)
            free = await _submitted_at(api, other_key, free_ids)
    finally:
        await gateway.stop()
        await simulator.stop()
    # 40 parts at 20/s: the first goes at once, the last about 1.95 s later (more only on a
    # loaded machine: the limit is a ceiling).
    spread = paced[-1] - paced[0]
    assert (40 - 1) / RATE * 0.9 <= spread <= (40 - 1) / RATE * 3, spread
    # The other account, sent after the paced one, was not held behind it.
    assert free[-1] < paced[-1]
    assert free[-1] - free[0] < spread / 2


def _part(n: int, account: str = "a") -> PartRecord:
    return PartRecord(
        message_id=f"m{n}", seq=1, total=1, account_id=account, source="Acme",
        destination="+4915112345678", encoding="gsm7", data_coding=0, udh=b"",
        payload=b"x", connector="c", priority=1, registered_delivery=False, attempts=0,
    )  # fmt: skip


async def _settle() -> None:
    for _ in range(5):  # the pacing task's turns: it releases what is due without sleeping
        await asyncio.sleep(0)


async def test_a_part_under_its_rate_goes_at_once_and_the_rest_wait() -> None:
    """The clock stands still: the first part of a paced account is under its rate and goes
    without a detour; the next waits its turn, and so does a part that was cleared but went
    back to the store (`forget`) when it is claimed again."""
    pacer = AccountPacer(limiter=MemoryRateLimiter(clock=lambda: 1000.0), rates={"a": 10.0})
    released: list[str] = []

    def release(p: PartRecord) -> None:
        released.append(p.message_id)

    assert pacer.admit(_part(0, "c"), release)  # no limit: not held
    assert [pacer.admit(_part(n, "a"), release) for n in range(3)] == [True, False, False]
    await _settle()
    assert released == [] and pacer.waiting == 2
    await pacer.stop()

    pacer = AccountPacer(limiter=MemoryRateLimiter(clock=lambda: 1000.0), rates={"a": 1000.0})
    assert pacer.admit(_part(0), release) and not pacer.admit(_part(1), release)
    await asyncio.sleep(0.05)  # its turn comes after 1 ms
    assert released == ["m1"]
    pacer.forget(_part(1))  # its connector had stopped: back to the store, not sent
    assert not pacer.admit(_part(1), release)  # claimed again: no pass left to skip the queue
    await pacer.stop()


async def test_withdrawn_parts_waiting_for_their_rate_are_never_released() -> None:
    pacer = AccountPacer(limiter=MemoryRateLimiter(), rates={"a": 50.0})
    released: list[str] = []

    def part(n: int) -> PartRecord:
        return PartRecord(
            message_id=f"m{n}", seq=1, total=1, account_id="a", source="Acme",
            destination="+4915112345678", encoding="gsm7", data_coding=0, udh=b"",
            payload=b"x", connector="c", priority=1, registered_delivery=False, attempts=0,
        )  # fmt: skip

    def release(p: PartRecord) -> None:
        released.append(p.message_id)
        assert pacer.admit(p, release)  # cleared: admitted at once when it comes back

    admitted = [pacer.admit(part(n), release) for n in range(10)]
    assert admitted == [True] + [False] * 9 and pacer.waiting == 9  # the first under the rate
    assert pacer.withdraw("m5") == 1
    await asyncio.sleep(0.4)
    assert released == [f"m{n}" for n in range(1, 10) if n != 5]
    assert pacer.waiting == 0
    await pacer.stop()


@pytest.mark.parametrize("rates", [{"acme": 0}, {"acme": -1.0}])
def test_account_rates_must_be_positive(rates: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="GATEWAY_ACCOUNT_RATES"):
        load_settings(account_rates=rates)
