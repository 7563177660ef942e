"""SMPP connector options against the built-in simulator: bind modes, window, per-bind rate,
TLS, TON/NPI and data_coding per carrier."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest

from connectors.smpp.bind import Bind, BindSettings
from connectors.smpp.connector import SmppConnector
from gateway.connector import UpstreamReceipt
from gateway.domain import InboundPart, PartRecord, Status
from gateway.simulator import Simulator, SimulatorConfig
from gateway.smpp.address import Npi, Ton


class Recorder:
    def __init__(self) -> None:
        self.receipts: list[UpstreamReceipt] = []

    async def receipts_received(self, connector: str, receipts: Sequence[UpstreamReceipt]) -> None:
        self.receipts.extend(receipts)

    async def inbound_received(self, connector: str, parts: Sequence[InboundPart]) -> None:
        raise AssertionError("no MO expected")


def _part(
    n: int, *, source: str = "Acme", encoding: str = "gsm7", data_coding: int = 0
) -> PartRecord:
    return PartRecord(
        message_id=f"m{n}",
        seq=1,
        total=1,
        account_id="a",
        source=source,
        destination="+4915112345678",
        encoding=encoding,
        data_coding=data_coding,
        udh=b"",
        payload=b"hello",
        connector="carrier",
        priority=1,
        registered_delivery=True,
        attempts=0,
    )


@asynccontextmanager
async def _carrier(
    simulator: SimulatorConfig | None = None, **options: Any
) -> AsyncIterator[tuple[Simulator, SmppConnector, Recorder]]:
    sim = Simulator(simulator or SimulatorConfig(port=0, password="secret", receipt_delay=0.01))
    await sim.start()
    connector = SmppConnector(
        name="carrier",
        options={"host": "127.0.0.1", "port": sim.port, "system_id": "gateway",
                 "password": "secret", **options},
    )  # fmt: skip
    recorder = Recorder()
    await connector.start(recorder)
    try:
        yield sim, connector, recorder
    finally:
        await connector.stop()
        await sim.stop()


async def _bound(connector: SmppConnector, count: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while sum(b.state == "bound" for b in connector.health()) < count:
        assert time.monotonic() < deadline, f"binds not up: {connector.health()}"
        await asyncio.sleep(0.01)


async def _until(check: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def test_tx_rx_mode_submits_on_transmitters_and_takes_receipts_on_a_receiver() -> None:
    async with _carrier(bind_mode="tx+rx", binds=2, receivers=1, system_type="VMA") as (
        sim,
        connector,
        recorder,
    ):
        await _bound(connector, 3)
        binds = sorted(type(b).__name__ for b in sim.stats.recent_binds)
        assert binds == ["BindReceiver", "BindTransmitter", "BindTransmitter"]
        assert {b.system_type for b in sim.stats.recent_binds} == {"VMA"}
        kinds = sorted((c.system_id, c.can_receive) for c in sim._connections)
        assert kinds == [("gateway", False), ("gateway", False), ("gateway", True)]
        outcomes = await asyncio.gather(*(connector.submit(_part(n)) for n in range(20)))
        ids = {o.upstream_id for o in outcomes}
        assert None not in ids and len(ids) == 20
        # The simulator sends receipts only to a bind that can receive: they came on the rx bind.
        await _until(lambda: len(recorder.receipts) == 20)
        assert {r.upstream_id for r in recorder.receipts} == ids
        assert {r.status for r in recorder.receipts} == {Status.DELIVERED}
        assert [b.name for b in connector.health()] == ["carrier#0", "carrier#1", "carrier#rx0"]


@pytest.mark.serial  # timed: make test runs it alone, after the rest
async def test_a_window_of_hundreds_pipelines_submits_instead_of_one_per_round_trip() -> None:
    # Every response takes 200 ms: one submit at a time would need 120 s for 600 parts.
    config = SimulatorConfig(port=0, password="secret", submit_latency=0.2, receipt_delay=0.01)
    async with _carrier(config, window=300, binds=2) as (_, connector, _recorder):
        await _bound(connector, 2)
        assert connector.capacity == 600
        started = time.monotonic()
        outcomes = await asyncio.gather(*(connector.submit(_part(n)) for n in range(600)))
        elapsed = time.monotonic() - started
    assert all(o.upstream_id for o in outcomes)
    assert elapsed < 3.0, f"600 submits took {elapsed:.1f} s: not pipelined"


@pytest.mark.serial  # timed: make test runs it alone, after the rest
async def test_bind_rate_holds_each_bind_to_its_own_limit() -> None:
    async with _carrier(binds=2, window=50, bind_rate=25) as (sim, connector, _recorder):
        await _bound(connector, 2)
        started = time.monotonic()
        outcomes = await asyncio.gather(*(connector.submit(_part(n)) for n in range(80)))
        elapsed = time.monotonic() - started
    assert all(o.upstream_id for o in outcomes)
    # Two binds at 25/s carry 50/s together: 80 parts need about 1.6 s (less one per bind).
    assert 1.4 <= elapsed <= 3.0, elapsed
    assert sim.stats.submits == 80


async def test_addresses_and_data_coding_follow_the_carrier_settings() -> None:
    async with _carrier(
        source_ton="0x02", source_npi=8, dest_ton=2, dest_npi="9", data_coding_gsm7=1
    ) as (sim, connector, _recorder):
        await _bound(connector, 1)
        await connector.submit(_part(1, source="Acme"))
        await connector.submit(_part(2, source="+4930123456"))
        await connector.submit(_part(3, encoding="ucs2", data_coding=8))
        await connector.submit(_part(4, data_coding=0xF0))  # flash: the sender's choice stays
        alpha, numeric, ucs2, flash = list(sim.stats.recent_submits)[-4:]
    # An alphanumeric sender is TON 5 whatever the plan says (§5.2.5); its NPI follows it.
    assert (alpha.source_addr, alpha.source_addr_ton, alpha.source_addr_npi) == ("Acme", 5, 8)
    assert (numeric.source_addr, numeric.source_addr_ton, numeric.source_addr_npi) == (
        "4930123456", 2, 8,
    )  # fmt: skip
    assert (alpha.destination_addr, alpha.dest_addr_ton, alpha.dest_addr_npi) == (
        "4915112345678", 2, 9,
    )  # fmt: skip
    assert alpha.data_coding == 1
    assert ucs2.data_coding == 8
    assert flash.data_coding == 0xF0


async def test_default_addresses_are_international_and_alphanumeric() -> None:
    async with _carrier() as (sim, connector, _recorder):
        await _bound(connector, 1)
        await connector.submit(_part(1, source="Acme"))
        (submit,) = list(sim.stats.recent_submits)
    assert (submit.source_addr_ton, submit.source_addr_npi) == (Ton.ALPHANUMERIC, Npi.UNKNOWN)
    assert (submit.dest_addr_ton, submit.dest_addr_npi) == (Ton.INTERNATIONAL, Npi.ISDN)
    assert submit.data_coding == 0


@pytest.mark.parametrize(
    ("options", "named"),
    [({"bind_mode": "rx"}, "bind_mode"), ({"bind_mode": "tx+rx", "receivers": 0}, "receivers"),
     ({"source_ton": 300}, "source_ton"), ({"data_coding_ucs2": "x"}, "data_coding_ucs2"),
     ({"tls": "maybe"}, "tls"), ({"window": 0}, "window"),
     ({"reconnect_min": 5, "reconnect_max": 1}, "reconnect_min")],
)  # fmt: skip
def test_bad_options_are_refused_at_start(options: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        SmppConnector(name="c", options={"host": "127.0.0.1", "port": 1, **options})


def _tls_simulator(cert: str, key: str) -> SimulatorConfig:
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    return SimulatorConfig(port=0, password="secret", receipt_delay=0.01, tls=server)


async def test_tls_binds_to_a_carrier_whose_certificate_is_trusted(
    tls_cert: tuple[str, str],
) -> None:
    cert, key = tls_cert
    async with _carrier(_tls_simulator(cert, key), tls=True, tls_ca=cert) as (
        _,
        connector,
        recorder,
    ):
        await _bound(connector, 1)
        outcome = await connector.submit(_part(1))
        assert outcome.upstream_id
        await _until(lambda: len(recorder.receipts) == 1)


async def test_tls_refuses_an_untrusted_certificate_unless_told_not_to_verify(
    tls_cert: tuple[str, str],
) -> None:
    cert, key = tls_cert
    async with _carrier(_tls_simulator(cert, key), tls=True) as (_, connector, _recorder):
        await _until(lambda: "CERTIFICATE_VERIFY_FAILED" in connector.health()[0].detail)
        assert connector.health()[0].state != "bound"
    async with _carrier(_tls_simulator(cert, key), tls="true", tls_verify="false") as (
        _,
        connector,
        _recorder,
    ):
        await _bound(connector, 1)


async def test_reconnects_back_off_exponentially_with_jitter_and_reset_once_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim = Simulator(SimulatorConfig(port=0, password="secret"))
    await sim.start()
    port = sim.port
    await sim.stop()  # nobody listens: every connect is refused
    waits: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        waits.append((low, high))
        return 0.01  # do not actually wait

    monkeypatch.setattr("connectors.smpp.bind.random.uniform", uniform)
    settings = BindSettings(
        host="127.0.0.1", port=port, system_id="gateway", password="secret",
        reconnect_min=0.5, reconnect_max=4.0,
    )  # fmt: skip

    async def no_deliver(pdu: Any) -> int:
        raise AssertionError("no deliver_sm expected")

    bind = Bind("carrier#0", settings, no_deliver)
    bind.start()
    try:
        await _until(lambda: len(waits) >= 6)
        assert waits[:6] == [(0.25, 0.5), (0.5, 1), (1, 2), (2, 4), (2, 4), (2, 4)]
        sim = Simulator(SimulatorConfig(port=port, password="secret"))
        await sim.start()
        await _until(lambda: bind.state == "bound")
        seen = len(waits)
        await sim.stop()  # the carrier drops the bind: the next wait starts from the minimum
        await _until(lambda: len(waits) > seen)
        assert waits[seen] == (0.25, 0.5)
    finally:
        await bind.stop()
