"""Per-connector concatenation: what goes to the carrier for a long text, in each mode."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gateway.app import Gateway
from gateway.config import load_settings
from gateway.simulator import Simulator, SimulatorConfig
from gateway.smpp.tlv import Tlv
from tests.conftest import DEMO_KEY

TEXT = "x" * 300  # GSM 7-bit: 2 segments (153 + 147 septets)


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    sim = Simulator(SimulatorConfig(port=0, password="secret", receipt_delay=0.01))
    await sim.start()
    yield sim
    await sim.stop()


async def _send_long(tmp_path: Path, simulator: Simulator, mode: str) -> dict[str, object]:
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path}/{mode}.db", http_port=0, smpp_port=0,
        demo_key=DEMO_KEY, node_id=f"concat-{mode}",
        upstream=f"smpp://gateway:secret@127.0.0.1:{simulator.port}?concat={mode}",
    )  # fmt: skip
    gateway = Gateway(settings)
    await gateway.start()
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{gateway.http_port}",
            headers={"Authorization": f"Bearer {DEMO_KEY}"},
        ) as api:
            accepted = await api.post(
                "/v1/messages", json={"to": "+4915112345678", "from": "Acme", "text": TEXT}
            )
            assert accepted.status_code == 202 and accepted.json()["segments"] == 2
            for _ in range(100):
                body: dict[str, object] = (
                    await api.get(f"/v1/messages/{accepted.json()['id']}")
                ).json()
                if body["status"] == "delivered":
                    return body
                await asyncio.sleep(0.05)
    finally:
        await gateway.stop()
    raise AssertionError(f"not delivered: {body}")


@pytest.mark.parametrize(
    ("mode", "udh_prefix"), [("udh8", b"\x05\x00\x03"), ("udh16", b"\x06\x08\x04")]
)
async def test_udh_modes(
    tmp_path: Path, simulator: Simulator, mode: str, udh_prefix: bytes
) -> None:
    body = await _send_long(tmp_path, simulator, mode)
    assert body["segments"] == 2
    pdus = list(simulator.stats.recent_submits)
    assert len(pdus) == 2 and all(p.esm_class & 0x40 for p in pdus)
    assert all(p.short_message.startswith(udh_prefix) for p in pdus)
    assert [p.short_message[len(udh_prefix) - 1 + udh_prefix[2]] for p in pdus] == [1, 2]
    assert sum(len(p.short_message) - 1 - p.short_message[0] for p in pdus) == 300


async def test_sar_mode(tmp_path: Path, simulator: Simulator) -> None:
    await _send_long(tmp_path, simulator, "sar")
    pdus = list(simulator.stats.recent_submits)
    assert len(pdus) == 2 and not any(p.esm_class & 0x40 for p in pdus)
    assert [p.tlvs[Tlv.SAR_SEGMENT_SEQNUM] for p in pdus] == [1, 2]
    assert {p.tlvs[Tlv.SAR_TOTAL_SEGMENTS] for p in pdus} == {2}
    assert len({p.tlvs[Tlv.SAR_MSG_REF_NUM] for p in pdus}) == 1
    assert b"".join(p.short_message for p in pdus) == TEXT.encode()


async def test_payload_mode(tmp_path: Path, simulator: Simulator) -> None:
    body = await _send_long(tmp_path, simulator, "payload")
    assert body["segments"] == 2 and len(body["parts"]) == 1  # billed as 2, sent as one PDU
    (pdu,) = simulator.stats.recent_submits
    assert pdu.short_message == b"" and pdu.tlvs[Tlv.MESSAGE_PAYLOAD] == TEXT.encode()
