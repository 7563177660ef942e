"""Routes with several connectors: failover when one is down or failing, throttling, validity.

Two SMSC simulators play two carriers; the gateway runs whole, and messages go in through REST.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from gateway.app import Gateway
from gateway.config import load_settings
from gateway.simulator import Simulator, SimulatorConfig
from gateway.smpp.codes import CommandStatus
from gateway.smpp.tlv import Tlv
from tests.conftest import DEMO_KEY

DE = "+4915112345678"
FR = "+33612345678"


async def _simulator(**kwargs: Any) -> Simulator:
    simulator = Simulator(SimulatorConfig(port=0, password="secret", receipt_delay=0.01, **kwargs))
    await simulator.start()
    return simulator


def _smpp(port: int, **options: Any) -> dict[str, Any]:
    return {
        "kind": "smpp",
        "host": "127.0.0.1",
        "port": port,
        "system_id": "gateway",
        "password": "secret",
        **options,
    }


@asynccontextmanager
async def _gateway(
    tmp_path: Path, **overrides: Any
) -> AsyncIterator[tuple[Gateway, httpx.AsyncClient]]:
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path}/gw.db",
        http_port=0,
        smpp_port=0,
        demo_key=DEMO_KEY,
        node_id="routing",
        retry_base_delay=0.05,
        retry_max_delay=0.2,
        **overrides,
    )
    gateway = Gateway(settings)
    await gateway.start()
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{gateway.http_port}",
            headers={"Authorization": f"Bearer {DEMO_KEY}"},
        ) as api:
            yield gateway, api
    finally:
        await gateway.stop()


async def _submit(api: httpx.AsyncClient, count: int, to: str = DE, **extra: Any) -> list[str]:
    ids = []
    for i in range(count):
        response = await api.post(
            "/v1/messages", json={"to": to, "from": "Acme", "text": f"m{i}", **extra}
        )
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])
    return ids


async def _final(
    api: httpx.AsyncClient, ids: list[str], *, timeout: float = 15.0
) -> dict[str, dict[str, Any]]:
    """Each message once it reached a final status (bounded wait)."""
    done: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while len(done) < len(ids) and time.monotonic() < deadline:
        for message_id in ids:
            if message_id in done:
                continue
            body = (await api.get(f"/v1/messages/{message_id}")).json()
            if body["status"] in ("delivered", "undelivered", "expired", "rejected", "failed"):
                done[message_id] = body
        await asyncio.sleep(0.05)
    assert len(done) == len(ids), f"{len(ids) - len(done)} messages not final in {timeout} s"
    return done


async def _eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_routes_pick_connectors_by_country_and_record_their_price(tmp_path: Path) -> None:
    de, fr = await _simulator(), await _simulator()
    try:
        async with _gateway(
            tmp_path,
            upstream=f"smpp://gateway:secret@127.0.0.1:{de.port}",
            connectors={"france": _smpp(fr.port)},
            routes=[{"name": "fr", "countries": ["FR"], "connectors": ["france"], "price": 0.03}],
            default_price=0.01,
        ) as (_, api):
            (de_id,) = await _submit(api, 1, DE)
            (fr_id,) = await _submit(api, 1, FR, text="x" * 200)  # two segments
            final = await _final(api, [de_id, fr_id])
        assert final[de_id]["status"] == final[fr_id]["status"] == "delivered"
        assert [p["connector"] for p in final[fr_id]["parts"]] == ["france", "france"]
        assert final[fr_id]["price"] == 0.06 and final[de_id]["price"] == 0.01
        assert (de.stats.submits, fr.stats.submits) == (1, 2)
    finally:
        await de.stop()
        await fr.stop()


async def test_a_connector_with_no_bind_up_hands_its_parts_to_the_next_of_the_route(
    tmp_path: Path,
) -> None:
    backup = await _simulator()
    down = await _simulator()
    down_port = down.port
    await down.stop()  # the first carrier of the route refuses connections
    try:
        async with _gateway(
            tmp_path,
            upstream=f"smpp://gateway:secret@127.0.0.1:{down_port}",
            connectors={"backup": _smpp(backup.port)},
            routes=[{"connectors": ["upstream", "backup"]}],
        ) as (gateway, api):
            ids = await _submit(api, 10)
            final = await _final(api, ids)
            metrics = gateway.metrics.render().decode()
        assert {m["status"] for m in final.values()} == {"delivered"}
        assert {m["parts"][0]["connector"] for m in final.values()} == {"backup"}
        assert backup.stats.submits == 10
        assert 'gateway_failovers_total{from_connector="upstream",to_connector="backup"}' in metrics
    finally:
        await backup.stop()


async def test_temporary_errors_are_retried_then_fail_over_and_the_breaker_opens(
    tmp_path: Path,
) -> None:
    failing = await _simulator(reject_ratio=1.0, reject_status=CommandStatus.ESME_RSYSERR)
    backup = await _simulator()
    try:
        async with _gateway(
            tmp_path,
            upstream=f"smpp://gateway:secret@127.0.0.1:{failing.port}",
            connectors={"backup": _smpp(backup.port)},
            routes=[{"connectors": ["upstream", "backup"]}],
            failover_after=2,
            circuit_failures=3,
            circuit_open_seconds=60,
        ) as (gateway, api):
            ids = await _submit(api, 10)
            final = await _final(api, ids)
            assert gateway.dispatcher is not None
            states = gateway.dispatcher.breaker_states()
        assert {m["status"] for m in final.values()} == {"delivered"}
        assert {m["parts"][0]["connector"] for m in final.values()} == {"backup"}
        # Each part was tried at most `failover_after` times on the failing carrier, and once the
        # breaker opened, not at all: far fewer than 10 x 2 rejected submits.
        assert failing.stats.rejected <= 10
        assert max(m["parts"][0]["attempts"] for m in final.values()) <= 3
        assert states["upstream"] != "closed" and states["backup"] == "closed"
    finally:
        await failing.stop()
        await backup.stop()


async def test_a_permanent_rejection_is_final_and_not_failed_over(tmp_path: Path) -> None:
    rejecting = await _simulator(reject_ratio=1.0)  # ESME_RSUBMITFAIL: permanent
    backup = await _simulator()
    try:
        async with _gateway(
            tmp_path,
            upstream=f"smpp://gateway:secret@127.0.0.1:{rejecting.port}",
            connectors={"backup": _smpp(backup.port)},
            routes=[{"connectors": ["upstream", "backup"]}],
        ) as (_, api):
            ids = await _submit(api, 3)
            final = await _final(api, ids)
        assert {m["status"] for m in final.values()} == {"rejected"}
        assert {m["parts"][0]["error_code"] for m in final.values()} == {"0x00000045"}
        assert backup.stats.submits == 0
    finally:
        await rejecting.stop()
        await backup.stop()


async def test_a_throttling_carrier_slows_us_down_and_every_message_arrives(
    tmp_path: Path,
) -> None:
    throttling = await _simulator(throttle_tps=100)
    try:
        async with _gateway(
            tmp_path, upstream=f"smpp://gateway:secret@127.0.0.1:{throttling.port}?window=50"
        ) as (gateway, api):
            ids = await asyncio.gather(*(_submit(api, 40) for _ in range(10)))
            flat = [i for chunk in ids for i in chunk]
            final = await _final(api, flat, timeout=30)
            metrics = gateway.metrics.render().decode()
        assert {m["status"] for m in final.values()} == {"delivered"}
        assert throttling.stats.submits == 400
        # Throttled submits were retried without counting as attempts.
        assert max(m["parts"][0]["attempts"] for m in final.values()) == 1
        assert throttling.stats.throttled > 0
        assert "gateway_upstream_rate" in metrics
        # AIMD keeps the retries down to a fraction of the traffic, not one per submit.
        assert throttling.stats.throttled < 400
    finally:
        await throttling.stop()


async def test_queued_messages_past_their_validity_expire(tmp_path: Path) -> None:
    down = await _simulator()
    port = down.port
    await down.stop()
    async with _gateway(
        tmp_path,
        upstream=f"smpp://gateway:secret@127.0.0.1:{port}",
        expiry_sweep_interval=0.2,
    ) as (gateway, api):
        # The carrier is down: the first message waits in dispatch and is expired when it is
        # taken; the scheduled one waits in the store and the sweep expires it.
        (waiting,) = await _submit(api, 1, validity=10)
        later = datetime.fromtimestamp(time.time() + 3600, UTC).isoformat()
        (scheduled,) = await _submit(api, 1, send_at=later, validity=10)
        body = (await api.get(f"/v1/messages/{scheduled}")).json()
        assert body["status"] == "scheduled" and body["expires_at"] > body["send_at"]
        assert gateway.store is not None
        # Move the validity into the past rather than waiting 10 s.
        await _expire_now(gateway, [waiting, scheduled])

        async def expired() -> bool:
            statuses = [(await api.get(f"/v1/messages/{i}")).json()["status"] for i in (scheduled,)]
            return statuses == ["expired"]

        await _eventually(expired)
        bad = await api.post(
            "/v1/messages", json={"to": DE, "from": "Acme", "text": "x", "validity": 1}
        )
        assert bad.status_code == 422 and bad.json()["code"] == "message.invalid_schedule"


async def _expire_now(gateway: Gateway, ids: list[str]) -> None:
    from gateway.store.sqlite import SqliteStore

    store = gateway.store
    assert isinstance(store, SqliteStore)
    past = time.time() - 1

    def run(conn: Any) -> None:
        conn.executemany(
            "UPDATE messages SET expires_at = ? WHERE id = ?", [(past, i) for i in ids]
        )

    await store._write(run)


async def test_an_open_breaker_probes_the_carrier_and_takes_it_back_when_it_recovers(
    tmp_path: Path,
) -> None:
    failing = await _simulator(reject_ratio=1.0, reject_status=CommandStatus.ESME_RSYSERR)
    backup = await _simulator()
    try:
        async with _gateway(
            tmp_path,
            upstream=f"smpp://gateway:secret@127.0.0.1:{failing.port}",
            connectors={"backup": _smpp(backup.port)},
            routes=[{"connectors": ["upstream", "backup"]}],
            failover_after=1,
            circuit_failures=2,
            circuit_open_seconds=0.5,
        ) as (gateway, api):
            assert gateway.dispatcher is not None
            dispatcher = gateway.dispatcher
            await _final(api, await _submit(api, 5))
            assert dispatcher.breaker_states()["upstream"] != "closed"
            failing.config.reject_ratio = 0.0  # the carrier recovers
            rejected = failing.stats.rejected
            await asyncio.sleep(0.6)  # past the open time: the next part is a probe

            async def back_in_rotation() -> bool:
                final = await _final(api, await _submit(api, 1))
                return next(iter(final.values()))["parts"][0]["connector"] == "upstream"

            await _eventually(back_in_rotation)
            assert dispatcher.breaker_states()["upstream"] == "closed"
            later = await _final(api, await _submit(api, 5))
        assert {m["parts"][0]["connector"] for m in later.values()} == {"upstream"}
        assert failing.stats.rejected == rejected  # nothing failed once it was back
    finally:
        await failing.stop()
        await backup.stop()


async def test_a_whole_long_text_fails_over_only_to_a_connector_that_sends_it_whole(
    tmp_path: Path,
) -> None:
    failing = await _simulator(reject_ratio=1.0, reject_status=CommandStatus.ESME_RSYSERR)
    udh, whole = await _simulator(), await _simulator()
    try:
        async with _gateway(
            tmp_path,
            upstream=f"smpp://gateway:secret@127.0.0.1:{failing.port}?concat=payload",
            connectors={
                "udh": _smpp(udh.port),
                "whole": _smpp(whole.port, concatenation="payload"),
            },
            routes=[{"connectors": ["upstream", "udh", "whole"]}],
            failover_after=1,
        ) as (_, api):
            (long_id,) = await _submit(api, 1, text="y" * 300)
            (short_id,) = await _submit(api, 1, text="short")
            final = await _final(api, [long_id, short_id])
        assert final[long_id]["status"] == final[short_id]["status"] == "delivered"
        # The long text was cut for `payload`: the udh carrier would have had it as one
        # message_payload it may not read, so it went to the other payload carrier, whole.
        assert final[long_id]["parts"][0]["connector"] == "whole"
        assert final[short_id]["parts"][0]["connector"] == "udh"
        (pdu,) = whole.stats.recent_submits
        assert pdu.tlvs[Tlv.MESSAGE_PAYLOAD] == b"y" * 300
        assert [p.short_message for p in udh.stats.recent_submits] == [b"short"]
    finally:
        for simulator in (failing, udh, whole):
            await simulator.stop()


async def test_promotional_parts_are_sent_while_an_otp_backlog_larger_than_memory_lasts(
    tmp_path: Path,
) -> None:
    # A carrier at about 50 parts/s and room for 10 parts in memory: most of the OTP backlog
    # waits in the store, where claiming strictly by priority would leave promotional parts
    # until the very end.
    carrier = await _simulator(submit_latency=0.02)
    try:
        async with _gateway(
            tmp_path,
            upstream=f"smpp://gateway:secret@127.0.0.1:{carrier.port}?window=1",
            dispatch_capacity=10,
        ) as (_, api):
            otp = [i for _ in range(4) for i in await _submit_many(api, 50, type="otp")]
            promotional = await _submit_many(api, 3, type="promotional")
            final = await _final(api, otp + promotional, timeout=30)
    finally:
        await carrier.stop()
    assert {m["status"] for m in final.values()} == {"delivered"}
    sent_at = {i: final[i]["parts"][0]["submitted_at"] for i in otp + promotional}
    arrived = min(final[i]["created_at"] for i in promotional)
    last_promotional = max(sent_at[i] for i in promotional)
    backlog = [i for i in otp if sent_at[i] > arrived]
    ahead = [i for i in backlog if sent_at[i] < last_promotional]
    print(f"OTP backlog when the promotional parts came: {len(backlog)}, sent ahead: {len(ahead)}")
    assert len(backlog) >= 80, "the OTP backlog should still be large when they come"
    # Each lane is owed its share of the claims (1 in 17 for promotional): the three went out
    # within the first few dozen parts of the backlog, not after all of it.
    assert len(ahead) < 0.7 * len(backlog), (len(ahead), len(backlog))


async def _submit_many(api: httpx.AsyncClient, count: int, **extra: Any) -> list[str]:
    responses = await asyncio.gather(
        *(api.post("/v1/messages", json={"to": DE, "from": "Acme", "text": f"b{i}", **extra})
          for i in range(count))
    )  # fmt: skip
    assert all(r.status_code == 202 for r in responses), [r.text for r in responses]
    return [r.json()["id"] for r in responses]
