"""SMPP server: TLS, queue-full back-pressure, and receipts for failed messages."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.app import Gateway
from gateway.config import load_settings
from gateway.smpp.codes import CommandStatus
from gateway.smpp.framing import Framer
from gateway.smpp.pdu import BindTransceiver, BindTransceiverResp, DeliverSm, decode, encode
from gateway.smpp.receipt import MessageState
from gateway.smpp.tlv import NetworkErrorCode, Tlv
from gateway.smpp_handoff import ConnectionDealer
from tests.conftest import DEMO_KEY, DEMO_SMPP_PASSWORD
from tests.esme_client import TestEsme, submit


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


async def _gateway(tmp_path: Path, **overrides: object) -> Gateway:
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path}/gw.db", http_port=0, smpp_port=0, simulator_port=0,
        demo_key=DEMO_KEY, demo_smpp_password=DEMO_SMPP_PASSWORD, node_id="extras",
        simulator_receipt_delay=0.01, **overrides,
    )  # fmt: skip
    gateway = Gateway(settings)
    await gateway.start()
    return gateway


@pytest.fixture
async def tls_gateway(tmp_path: Path) -> AsyncIterator[tuple[Gateway, Path]]:
    cert, key = _self_signed(tmp_path)
    gateway = await _gateway(tmp_path, smpp_tls_cert=str(cert), smpp_tls_key=str(key))
    yield gateway, cert
    await gateway.stop()


async def _tls_bind(port: int, cert: Path) -> None:
    """Bind as the demo transceiver over TLS, trusting `cert`; the bind must succeed."""
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False  # the certificate names localhost; we dial 127.0.0.1
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    writer.write(
        encode(BindTransceiver(system_id="demo", password=DEMO_SMPP_PASSWORD, sequence_number=1))
    )
    framer = Framer()
    frames: list[bytes] = []
    while not frames:
        frames = framer.feed(await asyncio.wait_for(reader.read(4096), 5))
    response = decode(frames[0])
    assert isinstance(response, BindTransceiverResp) and response.command_status == 0
    writer.close()


async def test_tls_listener_binds_with_a_verified_certificate(
    tls_gateway: tuple[Gateway, Path],
) -> None:
    gateway, cert = tls_gateway
    await _tls_bind(gateway.smpp_port, cert)
    # Plain text on the TLS port is not an SMPP session.
    plain = await TestEsme.connect(gateway.smpp_port, raw=True)
    plain.send(BindTransceiver(system_id="demo", password=DEMO_SMPP_PASSWORD))
    assert await plain.read(timeout=5) is None
    await plain.close()


async def test_tls_binds_on_a_connection_dealt_by_the_supervisor(tmp_path: Path) -> None:
    """A worker serves a handed-over socket as if it had accepted it, TLS included."""
    cert, key = _self_signed(tmp_path)
    dealer = ConnectionDealer("127.0.0.1", 0)
    channel = dealer.attach(0)
    gateway = await _gateway(
        tmp_path, smpp_tls_cert=str(cert), smpp_tls_key=str(key), smpp_handoff_fd=channel
    )  # fmt: skip
    dealer.start()
    try:
        await _tls_bind(dealer.port, cert)
        assert dealer.dealt == {0: 1}
    finally:
        await gateway.stop()
        dealer.close()


async def test_queue_full_answers_msgqful(gateway: Gateway) -> None:
    assert gateway.intake is not None
    gateway.intake._max_pending = 0  # the store "cannot keep up"
    esme = await TestEsme.connect(gateway.smpp_port)
    assert await esme.bind("trx", password=DEMO_SMPP_PASSWORD) == 0
    response = await esme.request(submit(b"no room"))
    assert response.command_status == CommandStatus.ESME_RMSGQFUL
    await esme.close()


async def test_receipt_for_an_undelivered_message_carries_the_error(tmp_path: Path) -> None:
    gateway = await _gateway(tmp_path, simulator_delivered_ratio=0.0)
    try:
        esme = await TestEsme.connect(gateway.smpp_port)
        assert await esme.bind("trx", password=DEMO_SMPP_PASSWORD) == 0
        message_id = (await esme.request(submit(b"doomed"))).message_id
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            pdu = await esme.read()
            if isinstance(pdu, DeliverSm):
                break
        assert isinstance(pdu, DeliverSm)
        assert pdu.tlvs[Tlv.RECEIPTED_MESSAGE_ID] == message_id
        assert pdu.tlvs[Tlv.MESSAGE_STATE] == MessageState.UNDELIVERABLE
        assert isinstance(pdu.tlvs[Tlv.NETWORK_ERROR_CODE], NetworkErrorCode)
        assert b"stat:UNDELIV" in pdu.short_message
        await esme.close()
    finally:
        await gateway.stop()
