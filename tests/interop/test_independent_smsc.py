"""The whole gateway against an SMSC written with smpplib's codec (independent_smsc.py).

Messages go in through the REST API and their final status is read back through
GET /v1/messages/{id}; what crossed the wire is checked in the SMSC's own records, decoded by
the other library. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import Gateway
from gateway.config import load_settings
from tests.conftest import DEMO_KEY
from tests.interop.independent_smsc import (
    ESM_INTERMEDIATE,
    RECEIPT_FIELDS,
    IndependentSmsc,
    SmscBehaviour,
)

ESME_RTHROTTLED = 0x58
ESME_RSYSERR = 0x08  # temporary (SMPP 3.4 gives no class; our table marks it so)
ESME_RINVDSTADR = 0x0B  # permanent: the destination is wrong
FINAL = {"delivered", "undelivered", "expired", "rejected", "failed", "cancelled"}
DEST = "+4915112345678"


@asynccontextmanager
async def gateway_against(
    smsc: IndependentSmsc,
    tmp_path: Path,
    *,
    query: str = "binds=2&window=20",
    database: str = "gw",
    **connector_options: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway whose upstream is `smsc`, and an API client for the demo account;
    `connector_options` (receipt_id, receipts_for) go into the upstream URL."""
    options = "".join(f"&{k}={v}" for k, v in connector_options.items())
    gateway = Gateway(
        load_settings(
            database_url=f"sqlite:///{tmp_path}/{database}.db", http_port=0, smpp_port=0,
            demo_key=DEMO_KEY, node_id="interop",
            upstream=f"smpp://gateway:secret@127.0.0.1:{smsc.port}?{query}{options}",
            retry_base_delay=0.1, retry_max_delay=0.5,
        ),
    )  # fmt: skip
    await gateway.start()
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{gateway.http_port}",
            headers={"Authorization": f"Bearer {DEMO_KEY}"},
            timeout=10,
        ) as api:
            yield api
    finally:
        await gateway.stop()


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("GATEWAY_"):
            monkeypatch.delenv(name)


@pytest.fixture
async def smsc() -> AsyncIterator[IndependentSmsc]:
    server = IndependentSmsc(SmscBehaviour(receipt_delay=0.02))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def submit(api: httpx.AsyncClient, texts: list[str], **extra: Any) -> list[str]:
    responses = await asyncio.gather(
        *(api.post("/v1/messages", json={"to": DEST, "from": "Acme", "text": t, **extra})
          for t in texts)
    )  # fmt: skip
    assert all(r.status_code == 202 for r in responses), [r.text for r in responses]
    return [r.json()["id"] for r in responses]


async def wait_final(
    api: httpx.AsyncClient, ids: list[str], timeout: float = 10.0
) -> dict[str, dict[str, Any]]:
    """Each message's body once final, or as it stands when `timeout` runs out."""
    bodies: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    pending = list(ids)
    while pending and time.monotonic() < deadline:
        for message_id in pending:
            bodies[message_id] = (await api.get(f"/v1/messages/{message_id}")).json()
        pending = [m for m in pending if bodies[m]["status"] not in FINAL]
        if pending:
            await asyncio.sleep(0.05)
    return bodies


def statuses(bodies: Mapping[str, Mapping[str, Any]]) -> Counter[str]:
    return Counter(body["status"] for body in bodies.values())


# -- the wire, as another codec reads it ------------------------------------------------------


async def test_long_text_arrives_as_three_udh_parts_with_the_fields_we_meant(
    smsc: IndependentSmsc, tmp_path: Path
) -> None:
    text = "".join(f"{i:03d} " for i in range(100))  # 400 GSM characters: 3 parts of 153
    async with gateway_against(smsc, tmp_path) as api:
        ids = await submit(api, [text])
        bodies = await wait_final(api, ids)
    assert statuses(bodies) == {"delivered": 1}
    parts = sorted(smsc.accepted(), key=lambda s: s.concat or (0, 0, 0))
    assert len(parts) == 3
    references = {p.concat[0] for p in parts if p.concat}
    assert len(references) == 1 and [p.concat[1:] for p in parts if p.concat] == [
        (3, 1),
        (3, 2),
        (3, 3),
    ]
    for p in parts:
        assert (p.source_addr_ton, p.source_addr_npi, p.source_addr) == (5, 0, "Acme")
        assert (p.dest_addr_ton, p.dest_addr_npi, p.destination_addr) == (1, 1, DEST[1:])
        assert p.esm_class == 0x40 and p.data_coding == 0 and p.registered_delivery == 1
        assert p.udh is not None and p.udh[:3] == b"\x05\x00\x03" and p.sar is None
    # One septet per octet (packed=false): the bodies put together are the text.
    assert b"".join(p.body for p in parts).decode("ascii") == text
    assert len(smsc.receipts) == 3


async def test_sar_parts_and_ucs2_as_another_codec_reads_them(
    smsc: IndependentSmsc, tmp_path: Path
) -> None:
    text = "Grüße aus Köln ✓ " * 5  # not GSM: UCS-2, 85 characters: 2 parts of 67
    async with gateway_against(smsc, tmp_path, query="binds=1&window=20&concat=sar") as api:
        bodies = await wait_final(api, await submit(api, [text]))
    assert statuses(bodies) == {"delivered": 1}
    parts = sorted(smsc.accepted(), key=lambda s: s.sar or (0, 0, 0))
    assert [p.sar[1:] for p in parts if p.sar] == [(2, 1), (2, 2)]
    assert len({p.sar[0] for p in parts if p.sar}) == 1
    for p in parts:
        assert p.esm_class == 0 and p.udh is None and p.data_coding == 8
    assert b"".join(p.body for p in parts).decode("utf-16-be") == text


# -- connections, binds, throttling, errors ---------------------------------------------------


async def test_dropped_connection_mid_window_retries_only_the_unanswered(
    smsc: IndependentSmsc, tmp_path: Path
) -> None:
    # 2 binds x window 20: the first 40 submits come at once and are answered after 50 ms, so
    # the 45th comes on a connection with answered submits behind it and a window in flight.
    smsc.behaviour.submit_latency = 0.05
    smsc.drop_connection_after(45)
    texts = [f"drop {i}" for i in range(80)]
    async with gateway_against(smsc, tmp_path) as api:
        bodies = await wait_final(api, await submit(api, texts), timeout=20)
        metrics = (await api.get("/metrics")).text
    assert statuses(bodies) == {"delivered": 80}
    assert smsc.dropped_connections == 1
    # Ops see it: one reconnect, and no submit left in the window once all are answered.
    assert 'gateway_upstream_reconnects_total{connector="upstream"} 1.0' in metrics
    assert 'gateway_upstream_window_in_use{connector="upstream"} 0.0' in metrics
    received = Counter(s.body.decode() for s in smsc.submits)
    accepted = Counter(s.body.decode() for s in smsc.accepted())
    # Every message accepted exactly once on the wire: no part whose response arrived was
    # sent again, and every unanswered one was.
    assert accepted == Counter(texts)
    unanswered = [s for s in smsc.submits if not s.answered]
    assert unanswered, "the drop should have left submits unanswered"
    dropped = {s.connection for s in unanswered}
    assert any(s.answered and s.connection in dropped for s in smsc.submits), (
        "some responses should have reached the gateway before the drop"
    )
    assert all(received[s.body.decode()] >= 2 for s in unanswered)


async def test_binds_refused_for_a_while_then_everything_is_delivered(
    smsc: IndependentSmsc, tmp_path: Path
) -> None:
    smsc.refuse_binds_for(1.5)
    async with gateway_against(smsc, tmp_path) as api:
        ids = await submit(api, [f"refused {i}" for i in range(10)])
        bodies = await wait_final(api, ids, timeout=15)
    assert statuses(bodies) == {"delivered": 10}
    refused = [b for b in smsc.binds if b[2] != 0]
    assert refused and all(b[0] == "bind_transceiver" for b in smsc.binds)


@pytest.mark.parametrize(
    ("strict", "tps", "count"), [(False, 20, 40), (True, 50, 20)], ids=["window", "jasmin-strict"]
)
async def test_throttled_submits_are_all_delivered(
    smsc: IndependentSmsc, tmp_path: Path, strict: bool, tps: int, count: int
) -> None:
    """Until dispatch slows down on `UpstreamError.throttled` (AIMD), the strict case costs
    rounds of retries: every burst gets one submit through per 1/tps s."""
    smsc.behaviour.throttle_tps = tps
    smsc.behaviour.throttle_strict = strict
    texts = [f"t{i}" for i in range(count)]
    async with gateway_against(smsc, tmp_path) as api:
        bodies = await wait_final(api, await submit(api, texts), timeout=30)
        metrics = (await api.get("/metrics")).text
    assert statuses(bodies) == {"delivered": count}
    assert any(s.status == ESME_RTHROTTLED for s in smsc.submits)
    # Throttled, the connector is held to a rate (AIMD): its parts now wait for the limiter.
    waits = re.search(
        r'^gateway_ratelimit_wait_seconds_count\{connector="upstream"\} (\S+)$', metrics, re.M
    )
    assert waits is not None and float(waits.group(1)) > 0
    assert Counter(s.body.decode() for s in smsc.accepted()) == Counter(texts)


async def test_temporary_errors_are_retried_and_permanent_ones_reject(
    smsc: IndependentSmsc, tmp_path: Path
) -> None:
    smsc.behaviour.error_ratio = 0.3
    smsc.behaviour.error_status = ESME_RSYSERR
    async with gateway_against(smsc, tmp_path) as api:
        bodies = await wait_final(api, await submit(api, [f"e{i}" for i in range(20)]))
        assert statuses(bodies) == {"delivered": 20}
        smsc.behaviour.error_ratio = 1.0
        smsc.behaviour.error_status = ESME_RINVDSTADR
        bodies = await wait_final(api, await submit(api, ["never"]))
    (body,) = bodies.values()
    assert body["status"] == "rejected" and body["error_code"] == "0x0000000B"


async def test_failover_from_a_failing_smsc_to_another(
    smsc: IndependentSmsc, tmp_path: Path
) -> None:
    smsc.behaviour.error_ratio = 1.0  # every submit: ESME_RSYSERR, temporary
    backup = IndependentSmsc(SmscBehaviour(receipt_delay=0.02))
    await backup.start()
    gateway = Gateway(
        load_settings(
            database_url=f"sqlite:///{tmp_path}/failover.db", http_port=0, smpp_port=0,
            demo_key=DEMO_KEY, node_id="interop-failover",
            upstream=f"smpp://gateway:secret@127.0.0.1:{smsc.port}",
            connectors={"backup": {"kind": "smpp", "host": "127.0.0.1", "port": backup.port,
                                   "system_id": "gateway", "password": "secret"}},
            routes=[{"connectors": ["upstream", "backup"]}],
            failover_after=1, retry_base_delay=0.1, retry_max_delay=0.5,
        ),
    )  # fmt: skip
    await gateway.start()
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{gateway.http_port}",
            headers={"Authorization": f"Bearer {DEMO_KEY}"},
        ) as api:
            texts = [f"f{i}" for i in range(10)]
            bodies = await wait_final(api, await submit(api, texts))
    finally:
        await gateway.stop()
        await backup.stop()
    assert statuses(bodies) == {"delivered": 10}
    assert {body["parts"][0]["connector"] for body in bodies.values()} == {"backup"}
    assert Counter(s.body.decode() for s in backup.accepted()) == Counter(texts)
    assert not smsc.accepted()


async def test_transmitter_and_receiver_binds(smsc: IndependentSmsc, tmp_path: Path) -> None:
    async with gateway_against(
        smsc, tmp_path, query="binds=2&window=20", bind_mode="tx%2Brx", receivers=1
    ) as api:
        bodies = await wait_final(api, await submit(api, [f"txrx {i}" for i in range(10)]))
    assert statuses(bodies) == {"delivered": 10}
    assert Counter(b[0] for b in smsc.binds if b[2] == 0) == {
        "bind_transmitter": 2,
        "bind_receiver": 1,
    }


# -- receipts ---------------------------------------------------------------------------------


async def test_receipt_before_response_is_matched(smsc: IndependentSmsc, tmp_path: Path) -> None:
    smsc.behaviour.receipt_before_response = True
    smsc.behaviour.submit_latency = 0.1
    async with gateway_against(smsc, tmp_path) as api:
        bodies = await wait_final(api, await submit(api, [f"early {i}" for i in range(10)]))
    assert statuses(bodies) == {"delivered": 10}
    first_receipt = min(r.sent_at for r in smsc.receipts)
    assert first_receipt < min(s.received_at for s in smsc.accepted()) + 0.1


async def test_multipart_is_delivered_only_when_every_part_is(
    smsc: IndependentSmsc, tmp_path: Path
) -> None:
    """A carrier that receipts only the last part leaves a connector set for receipts on every
    part waiting (the others may still fail); `receipts_for=last` makes that receipt final for
    the whole message."""
    text = "x" * 400  # 3 parts
    smsc.behaviour.receipts_for = "last"
    async with gateway_against(smsc, tmp_path) as api:
        (waiting,) = await submit(api, [text])
        deadline = time.monotonic() + 5
        while not any(r.ack_status == 0 for r in smsc.receipts) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert len(smsc.receipts) == 1  # for part 3 only
        await asyncio.sleep(0.3)  # the acknowledged receipt is committed: nothing else comes
        body = (await api.get(f"/v1/messages/{waiting}")).json()
        assert body["status"] == "submitted"
        assert sorted(p["status"] for p in body["parts"]) == ["delivered", "submitted", "submitted"]
    async with gateway_against(smsc, tmp_path, database="last", receipts_for="last") as api:
        bodies = await wait_final(api, await submit(api, [text, "short"]))
    assert statuses(bodies) == {"delivered": 2}
    long_one = next(b for b in bodies.values() if b["segments"] == 3)
    assert [p["status"] for p in long_one["parts"]] == ["delivered"] * 3


async def test_multipart_with_a_receipt_for_every_part(
    smsc: IndependentSmsc, tmp_path: Path
) -> None:
    smsc.behaviour.receipt_delay = 0.2
    async with gateway_against(smsc, tmp_path, receipts_for="last") as api:
        bodies = await wait_final(api, await submit(api, ["y" * 400]))
    assert statuses(bodies) == {"delivered": 1}
    assert len(smsc.receipts) == 3


@pytest.mark.parametrize(
    ("id_form", "receipt_id_form", "option", "stored"),
    [
        ("dec", "hex", "hex_to_dec", str(0xA000_0000)),
        ("hex", "dec", "dec_to_hex", "a0000000"),
        ("HEX", "dec", "dec_to_hex", "a0000000"),
        ("uuid", "UUID", "ignore_case", None),
        ("dec", "hex", "auto", str(0xA000_0000)),
        ("HEX", "dec", "auto", "A0000000"),
        ("UUID", "uuid", "auto", None),
    ],
)
async def test_receipt_ids_in_another_form_than_the_response(
    smsc: IndependentSmsc,
    tmp_path: Path,
    id_form: Any,
    receipt_id_form: Any,
    option: str,
    stored: str | None,
) -> None:
    smsc.behaviour.id_form = id_form
    smsc.behaviour.receipt_id_form = receipt_id_form
    async with gateway_against(smsc, tmp_path, receipt_id=option) as api:
        ids = await submit(api, ["form 0"])
        bodies = await wait_final(api, ids)
        bodies.update(await wait_final(api, await submit(api, [f"form {i}" for i in (1, 2, 3)])))
    assert statuses(bodies) == {"delivered": 4}
    if stored is not None:
        assert bodies[ids[0]]["upstream_ids"] == [stored]


async def test_receipt_ids_in_another_form_stay_unmatched_without_the_option(
    smsc: IndependentSmsc, tmp_path: Path
) -> None:
    smsc.behaviour.id_form, smsc.behaviour.receipt_id_form = "dec", "hex"
    async with gateway_against(smsc, tmp_path) as api:
        bodies = await wait_final(api, await submit(api, ["unmatched"]), timeout=1.0)
    assert statuses(bodies) == {"submitted": 1}


async def test_intermediate_receipts_then_delivered(smsc: IndependentSmsc, tmp_path: Path) -> None:
    smsc.behaviour.intermediate_states = ("ACCEPTD", "ENROUTE")
    smsc.behaviour.intermediate_esm_class = ESM_INTERMEDIATE  # §5.2.12 type 1000, not an MO
    smsc.behaviour.receipt_delay = 0.05
    smsc.behaviour.receipt_interval = 0.4  # ACCEPTD at 0.05 s, ENROUTE at 0.45 s, DELIVRD at 0.85 s
    async with gateway_against(smsc, tmp_path) as api:
        ids = await submit(api, ["via enroute"])
        deadline = time.monotonic() + 5
        while len(smsc.receipts) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)
        assert [r.state for r in smsc.receipts] == ["ACCEPTD", "ENROUTE"]
        body = (await api.get(f"/v1/messages/{ids[0]}")).json()
        assert body["status"] == "submitted" and body["parts"][0]["status"] == "submitted"
        bodies = await wait_final(api, ids)
        metrics = (await api.get("/metrics")).text
    # Read as receipts, not as messages from the handset (esm_class type 1000 is no MO).
    assert "gateway_inbound_messages_total{" not in metrics
    assert statuses(bodies) == {"delivered": 1}
    assert [r.state for r in smsc.receipts] == ["ACCEPTD", "ENROUTE", "DELIVRD"]
    assert all(r.ack_status == 0 for r in smsc.receipts)


@pytest.mark.parametrize(
    ("final", "expected"), [("DELIVRD", "delivered"), ("UNDELIV", "undelivered")]
)
async def test_duplicate_and_out_of_order_receipts_keep_the_final_status(
    smsc: IndependentSmsc, tmp_path: Path, final: str, expected: str
) -> None:
    b = smsc.behaviour
    b.final_state, b.error_code = final, "034" if final == "UNDELIV" else "000"
    b.intermediate_states, b.out_of_order, b.duplicate_receipts = ("ENROUTE",), True, 2
    async with gateway_against(smsc, tmp_path) as api:
        ids = await submit(api, [f"ooo {i}" for i in range(5)])
        await wait_final(api, ids)
        deadline = time.monotonic() + 5
        while len(smsc.receipts) < 20 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)  # 5 x (3 finals + 1 ENROUTE after them)
        await asyncio.sleep(0.2)
        bodies = await wait_final(api, ids)
    assert len(smsc.receipts) == 20
    assert statuses(bodies) == {expected: 5}
    if final == "UNDELIV":
        assert {b["error_code"] for b in bodies.values()} == {"034"}


async def test_late_receipts_arrive_after_seconds(smsc: IndependentSmsc, tmp_path: Path) -> None:
    smsc.behaviour.receipt_delay = 2.0
    async with gateway_against(smsc, tmp_path) as api:
        ids = await submit(api, [f"late {i}" for i in range(5)])
        await asyncio.sleep(1.0)
        early = await wait_final(api, ids, timeout=0.1)
        assert statuses(early) == {"submitted": 5}
        bodies = await wait_final(api, ids, timeout=5)
    assert statuses(bodies) == {"delivered": 5}


@pytest.mark.parametrize(
    ("fields", "id_in"),
    [
        (("id", "submit date", "done date", "stat", "err"), "both"),  # no sub:, dlvrd:, text:
        (("text", "stat", "err", "id", "done date", "submit date", "dlvrd", "sub"), "text"),
        (tuple(f for f in RECEIPT_FIELDS if f != "id"), "tlv"),  # the id only in the TLV
        (("id", "stat"), "text"),  # the id only in the text, and nothing else but the state
    ],
    ids=["no-sub-dlvrd-text", "reordered-text-only", "id-only-in-tlv", "id-only-in-text"],
)
async def test_receipts_missing_or_reordering_fields(
    smsc: IndependentSmsc, tmp_path: Path, fields: tuple[str, ...], id_in: Any
) -> None:
    smsc.behaviour.receipt_fields = fields
    smsc.behaviour.receipt_id_in = id_in
    smsc.behaviour.final_state = "UNDELIV"  # not the TLV fast path: the text must be read
    async with gateway_against(smsc, tmp_path) as api:
        bodies = await wait_final(api, await submit(api, [f"fields {i}" for i in range(3)]))
    assert statuses(bodies) == {"undelivered": 3}


async def test_last_part_receipt_before_the_response_covers_the_message(
    smsc: IndependentSmsc, tmp_path: Path
) -> None:
    """The covering rule also applies to a receipt that was parked (it came first)."""
    b = smsc.behaviour
    b.receipts_for, b.receipt_before_response, b.submit_latency = "last", True, 0.1
    async with gateway_against(smsc, tmp_path, receipts_for="last") as api:
        bodies = await wait_final(api, await submit(api, ["z" * 400]))
    assert statuses(bodies) == {"delivered": 1}
    assert len(smsc.receipts) == 1


# -- the independent SMSC itself, on bad input ------------------------------------------------


async def _exchange(port: int, *pdus: bytes) -> list[Any]:
    """Send raw PDUs, read what comes back until the SMSC closes or goes quiet (bounded)."""
    from gateway.smpp.pdu import decode

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for data in pdus:
            writer.write(data)
        answers = []
        while True:
            try:
                header = await asyncio.wait_for(reader.readexactly(16), timeout=0.5)
            except (TimeoutError, asyncio.IncompleteReadError):
                return answers
            length = int.from_bytes(header[:4], "big")
            answers.append(decode(header + await reader.readexactly(length - 16)))
    finally:
        writer.close()


def _raw(command_id: int, sequence: int, body: bytes = b"") -> bytes:
    return (
        (16 + len(body)).to_bytes(4, "big")
        + command_id.to_bytes(4, "big")
        + bytes(4)
        + (sequence.to_bytes(4, "big") + body)
    )


async def test_independent_smsc_answers_bad_input_and_never_hangs(smsc: IndependentSmsc) -> None:
    # Our codec reads the SMSC's answers here: the SMSC itself never imports it.
    from gateway.smpp.pdu import BindTransceiverResp, GenericNack, SubmitSmResp

    bind = _raw(0x09, 1, b"gateway\0wrong\0\0\x34\0\0\0")
    unknown, submit_unbound = _raw(0x0000_0777, 2), _raw(0x04, 3, bytes(17))
    answers = await _exchange(smsc.port, unknown, submit_unbound, bind)
    assert isinstance(answers[0], GenericNack) and answers[0].command_status == 0x03
    assert isinstance(answers[1], GenericNack) and answers[1].command_status == 0x04
    assert isinstance(answers[2], BindTransceiverResp) and answers[2].command_status == 0x0E
    assert len(answers) == 3  # and the connection was closed after the refused bind
    # A command_length below the header's: answered, then closed (no way to resynchronise).
    (nack,) = await _exchange(smsc.port, (8).to_bytes(4, "big") + bytes(12))
    assert isinstance(nack, GenericNack) and nack.command_status == 0x02
    good = _raw(0x09, 4, b"gateway\0secret\0\0\x34\0\0\0")
    truncated_submit = _raw(0x04, 5, b"\0\x05")  # the body ends inside its fields
    answers = await _exchange(smsc.port, good, truncated_submit)
    assert answers[0].command_status == 0
    assert isinstance(answers[1], SubmitSmResp) and answers[1].command_status == 0x0B
