"""Kannel, an independent ESME, uses our SMPP server as its SMSC: every message it sends through
its sendsms API is accepted, and every delivery receipt finds its way back to Kannel's dlr-url.

Kannel (bearerbox + smsbox, Debian's `kannel` package) binds as a transceiver with the demo
account's SMPP credentials; see tests/interop/kannel.py for the configuration and why it leaves
msg-id-type unset.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from gateway.app import Gateway
from tests.conftest import DEMO_KEY, DEMO_SMPP_PASSWORD
from tests.interop.kannel import Kannel, ensure_kannel, write_config

# Kannel's dlr-mask bits (userguide, sendsms "dlr-mask"): 1 delivered to phone, 2 not delivered
# to phone, 4 queued on SMSC, 8 accepted by SMSC, 16 rejected by SMSC.
DLR_DELIVERED, DLR_UNDELIVERED, DLR_SMSC_ACK, DLR_SMSC_NACK = 1, 2, 8, 16
DLR_MASK_ALL = 31
RECEIPT_TIMEOUT = 30.0

SHORT_TEXTS = [f"Kannel interop short message {n}" for n in range(10)]
# 300 characters each: plain GSM (2 parts) and with extension-table characters, which take two
# septets each (3 parts). Kannel splits them itself (sendsms-user concatenation = true).
LONG_TEXTS = [
    ("Long message A, part of the Kannel test. " * 8)[:300],
    ("Long message B {with GSM extension chars ~ ^ | }. " * 7)[:300],
]
UNICODE_TEXT = "Grüße aus Köln, Привет, 你好 😀"
# The gateway's own ids: 26 Crockford base32 characters (no I, L, O, U).
MESSAGE_ID = r"[0-9A-HJKMNP-TV-Z]{26}"


@dataclass(frozen=True)
class Report:
    """One dlr-url call Kannel made."""

    ref: str
    type: int
    smsc_id: str  # %F: the message id our server gave Kannel in submit_sm_resp
    reply: str  # %A: the receipt text, or "ACK/" for the SMSC's acceptance


class DlrReceiver:
    """Kannel's dlr-url target: a small threaded HTTP server on a free loopback port."""

    def __init__(self) -> None:
        self._reports: list[Report] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
                type_ = query.get("type", [""])[0]
                receiver._add(
                    Report(
                        ref=query.get("id", [""])[0],
                        type=int(type_) if type_.isdigit() else -1,
                        smsc_id=query.get("fid", [""])[0],
                        reply=query.get("reply", [""])[0],
                    )
                )
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"OK")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _add(self, report: Report) -> None:
        with self._lock:
            self._reports.append(report)

    def url(self, ref: str) -> str:
        # %d, %F and %A are Kannel's DLR escapes: report type, SMSC message id, SMSC reply.
        return f"http://127.0.0.1:{self.port}/dlr?id={ref}&type=%d&fid=%F&reply=%A"

    def snapshot(self) -> list[Report]:
        with self._lock:
            return list(self._reports)

    async def wait(self, refs: set[str], timeout: float) -> dict[str, list[Report]]:
        """The reports by ref, once every ref has its SMSC report (8 or 16) and its final one
        (1 or 2), or at the deadline. smsbox calls dlr-urls concurrently, so the final report
        may arrive before the SMSC one."""
        deadline = time.monotonic() + timeout
        while True:
            reports = self.snapshot()
            finals = {r.ref for r in reports if r.type in (DLR_DELIVERED, DLR_UNDELIVERED)}
            acks = {r.ref for r in reports if r.type in (DLR_SMSC_ACK, DLR_SMSC_NACK)}
            if (refs <= finals and refs <= acks) or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.1)
        by_ref: dict[str, list[Report]] = {ref: [] for ref in refs}
        for report in reports:
            by_ref.setdefault(report.ref, []).append(report)
        return by_ref

    def __enter__(self) -> DlrReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def dlr_receiver() -> Iterator[DlrReceiver]:
    with DlrReceiver() as receiver:
        yield receiver


@pytest.fixture
async def kannel(gateway: Gateway, tmp_path: Path) -> AsyncIterator[Kannel]:
    """Kannel bound to the gateway's SMPP server; stopped (by PID) before the gateway stops."""
    bearerbox, smsbox = ensure_kannel()
    config = write_config(
        tmp_path / "kannel",
        smpp_port=gateway.smpp_port,
        system_id="demo",
        password=DEMO_SMPP_PASSWORD,
    )
    box = Kannel(config, bearerbox, smsbox)
    try:
        await box.start(timeout=30)
        yield box
    finally:
        try:
            await box.stop()
        finally:
            box.kill()


@pytest.fixture
def api_url(gateway: Gateway) -> str:
    return f"http://127.0.0.1:{gateway.http_port}"


async def _send(
    kannel: Kannel, receiver: DlrReceiver, messages: list[tuple[str, str, bool]]
) -> None:
    """Submit (ref, text, unicode) through Kannel's sendsms API, all at once; each must be
    accepted."""

    async def one(client: httpx.AsyncClient, ref: str, text: str, unicode: bool) -> None:
        params = {
            "username": kannel.config.sendsms_username,
            "password": kannel.config.sendsms_password,
            "from": "Acme",
            "to": "+4915112345678",
            "text": text,
            "dlr-mask": str(DLR_MASK_ALL),
            "dlr-url": receiver.url(ref),
        }
        if unicode:
            params |= {"coding": "2", "charset": "UTF-8"}
        answer = await client.get(kannel.config.sendsms_url, params=params)
        assert answer.status_code == 202, (ref, answer.status_code, answer.text)
        assert answer.text.startswith("0: Accepted for delivery"), (ref, answer.text)

    async with httpx.AsyncClient(timeout=10) as client:
        await asyncio.gather(*(one(client, *message) for message in messages))


def _gsm_segments(text: str) -> int:
    """Segments of a GSM 03.38 text: 160 septets alone, else 153 per part after the 6-octet
    concatenation UDH (3GPP TS 23.040 §9.2.3.24.1); extension-table characters take two."""
    septets = len(text) + sum(text.count(c) for c in "^{}\\[~]|€")
    return 1 if septets <= 160 else -(-septets // 153)


def _receipt_snippet(text: str) -> str:
    """The receipt's text: field (SMPP 3.4 Appendix B): the first 20 characters, which our
    server writes as printable ASCII with anything else as '.'."""
    return "".join(c if " " <= c <= "~" else "." for c in text[:20])


def _metric(text: str, name: str) -> float:
    """The sum of a Prometheus counter over all its label sets."""
    pattern = rf"^{re.escape(name)}(?:{{[^}}]*}})? (\S+)$"
    return sum(float(m.group(1)) for m in re.finditer(pattern, text, re.MULTILINE))


async def test_kannel_sends_through_our_smpp_server_and_gets_every_receipt(
    gateway: Gateway,
    kannel: Kannel,
    dlr_receiver: DlrReceiver,
    api_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    messages = (
        [(f"short{n}", text, False) for n, text in enumerate(SHORT_TEXTS)]
        + [(f"long{n}", text, False) for n, text in enumerate(LONG_TEXTS)]
        + [("unicode", UNICODE_TEXT, True)]
    )
    texts = {ref: text for ref, text, _ in messages}
    segments = {ref: 1 if unicode else _gsm_segments(text) for ref, text, unicode in messages}
    assert [segments["long0"], segments["long1"]] == [2, 3]

    await _send(kannel, dlr_receiver, messages)
    by_ref = await dlr_receiver.wait(set(segments), RECEIPT_TIMEOUT)

    context = (
        f"reports: {by_ref}\nKannel warnings and errors: {kannel.problem_lines()}\n"
        + kannel.diagnostics()
    )
    assert set(by_ref) == set(segments), context
    missing = sorted(
        ref for ref, got in by_ref.items() if {r.type for r in got} != {DLR_SMSC_ACK, DLR_DELIVERED}
    )
    assert not missing, f"no SMSC ack (8) and delivered (1) reports for {missing}\n{context}"

    message_ids: dict[str, str] = {}
    for ref, got in by_ref.items():
        # Kannel splits a long message itself and asks a receipt for its first part only
        # (registered_delivery 0 on the others), so every message gets exactly one of each.
        assert sorted(r.type for r in got) == [DLR_DELIVERED, DLR_SMSC_ACK], (ref, got)
        delivered, ack = sorted(got, key=lambda r: r.type)
        # %F is the id our submit_sm_resp gave Kannel, kept as a string: a message id, plus
        # "-1" for the first part of a long message. The receipt Kannel matched carries it.
        suffix = "-1" if segments[ref] > 1 else ""
        assert re.fullmatch(MESSAGE_ID + suffix, ack.smsc_id), (ref, got)
        assert delivered.smsc_id == ack.smsc_id, (ref, got)
        assert f"id:{ack.smsc_id} " in delivered.reply, (ref, got)
        assert "stat:DELIVRD" in delivered.reply, (ref, got)
        # The receipt quotes the start of the text as we decoded it from Kannel's GSM 03.38
        # (extension characters as escape pairs) or UCS-2 (with a surrogate pair).
        assert f"text:{_receipt_snippet(texts[ref])}" in delivered.reply, (ref, got)
        message_ids[ref] = ack.smsc_id.removesuffix(suffix)
    assert len(set(message_ids.values())) == len(messages), message_ids

    # Our side: each Kannel message is one message of ours, with all its parts, delivered.
    async with httpx.AsyncClient(
        base_url=api_url, headers={"Authorization": f"Bearer {DEMO_KEY}"}, timeout=10
    ) as api:
        for ref, _, unicode in messages:
            response = await api.get(f"/v1/messages/{message_ids[ref]}")
            assert response.status_code == 200, (ref, response.text)
            body = response.json()
            assert body["status"] == "delivered", (ref, body)
            assert body["segments"] == segments[ref] == len(body["parts"]), (ref, body)
            assert body["encoding"] == ("ucs2" if unicode else "gsm7"), (ref, body)
            assert (body["from"], body["to"]) == ("Acme", "+4915112345678"), (ref, body)
        metrics = (await api.get("/metrics")).text
    accepted = [line for line in metrics.splitlines() if line.startswith("gateway_segments")]
    assert _metric(metrics, "gateway_segments_accepted_total") == sum(segments.values()), accepted

    # Kannel matched every receipt it got, and neither side complained.
    assert not kannel.dlr_trouble(), kannel.dlr_trouble()
    assert not kannel.problem_lines(), kannel.problem_lines()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors


async def test_kannel_long_message_counts_once_in_messages_accepted(
    kannel: Kannel, dlr_receiver: DlrReceiver, api_url: str
) -> None:
    """Kannel submits a long message as one submit_sm per part; our intake commits each part
    as it arrives, but the message is accepted once."""
    messages = [("short", SHORT_TEXTS[0], False), ("long", LONG_TEXTS[1], False)]
    await _send(kannel, dlr_receiver, messages)
    by_ref = await dlr_receiver.wait({"short", "long"}, RECEIPT_TIMEOUT)
    assert all(any(r.type == DLR_DELIVERED for r in got) for got in by_ref.values()), by_ref
    async with httpx.AsyncClient(base_url=api_url, timeout=10) as api:
        metrics = (await api.get("/metrics")).text
    accepted = [
        line
        for line in metrics.splitlines()
        if line.startswith("gateway_") and "_accepted_total" in line
    ]
    assert _metric(metrics, "gateway_segments_accepted_total") == 1 + 3, accepted
    counted = _metric(metrics, "gateway_messages_accepted_total")
    assert counted == len(messages), (
        f"{len(messages)} messages (1 short, 1 in 3 parts) counted as {counted}: {accepted}"
    )
