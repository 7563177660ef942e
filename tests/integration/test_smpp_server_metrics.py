"""What the SMPP server reports to Prometheus: binds and the requests ESMEs send."""

from __future__ import annotations

import httpx

from gateway.app import Gateway
from gateway.smpp.codes import CommandStatus
from gateway.smpp.pdu import EnquireLink
from tests.conftest import DEMO_SMPP_PASSWORD
from tests.esme_client import TestEsme, submit


def _value(text: str, series: str) -> float:
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{series} not in the scrape")


async def test_requests_are_counted_by_command_and_binds_by_system_id(
    gateway: Gateway, api: httpx.AsyncClient
) -> None:
    esme = await TestEsme.connect(gateway.smpp_port)
    assert await esme.bind("trx", password=DEMO_SMPP_PASSWORD) == CommandStatus.ESME_ROK
    for _ in range(3):
        assert (await esme.request(submit(b"counted"))).command_status == CommandStatus.ESME_ROK
    assert (await esme.request(EnquireLink())).command_status == CommandStatus.ESME_ROK

    text = (await api.get("/metrics")).text
    assert _value(text, 'gateway_smpp_server_pdus_total{command="bind_transceiver"}') == 1
    assert _value(text, 'gateway_smpp_server_pdus_total{command="submit_sm"}') == 3
    assert _value(text, 'gateway_smpp_server_pdus_total{command="enquire_link"}') == 1
    assert _value(text, 'gateway_smpp_server_binds{system_id="demo"}') == 1
    ok = 'gateway_smpp_server_responses_total{command="submit_sm_resp",status="ESME_ROK"}'
    assert _value(text, ok) == 3
    await esme.close()


async def test_responses_are_counted_by_status(gateway: Gateway, api: httpx.AsyncClient) -> None:
    esme = await TestEsme.connect(gateway.smpp_port)
    assert await esme.bind("trx", password="wrong") == CommandStatus.ESME_RINVPASWD
    text = (await api.get("/metrics")).text
    series = (
        'gateway_smpp_server_responses_total{command="bind_transceiver_resp",'
        'status="ESME_RINVPASWD"}'
    )
    assert _value(text, series) == 1
    await esme.close()
