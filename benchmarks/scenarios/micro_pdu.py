"""micro-pdu: encode + decode of a submit_sm (160-octet short_message) and of a deliver_sm
delivery receipt (Appendix B text and TLVs), operations per second on one core.

Baseline: smpplib (an independent pure-Python SMPP library, a dev dependency) encoding and
parsing the same PDUs; a ratio above 1 means our codec is faster.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from benchmarks.modes import Context
from benchmarks.report import ScenarioResult
from benchmarks.timing import ops_per_second
from gateway.smpp import (
    DeliverSm,
    MessageState,
    Receipt,
    SubmitSm,
    build_receipt_pdu,
    decode,
    encode,
    parse_receipt,
)

SHORT_MESSAGE = bytes(range(32, 112)) * 2  # 160 octets
WHEN = datetime(2025, 1, 2, 3, 4, tzinfo=UTC)

SUBMIT = SubmitSm(
    sequence_number=7,
    source_addr_ton=5,
    source_addr="Acme",
    dest_addr_ton=1,
    dest_addr_npi=1,
    destination_addr="4915112345678",
    registered_delivery=1,
    short_message=SHORT_MESSAGE,
)
RECEIPT: DeliverSm = build_receipt_pdu(
    Receipt(
        message_id="98afc0c60000",
        state=MessageState.DELIVERED,
        submitted=1,
        delivered=1,
        submit_date=WHEN,
        done_date=WHEN,
        text="Your code is 482913",
    ),
    source_addr="4915112345678",
    destination_addr="Acme",
    sequence_number=9,
)


def _roundtrip(pdu: Any) -> Callable[[], object]:
    def one() -> object:
        return decode(encode(pdu))

    return one


def _receipt_parse() -> object:
    return parse_receipt(decode(encode(RECEIPT)))  # type: ignore[arg-type]


class _SmpplibClient:
    """smpplib takes sequence numbers from a client object; a fixed one keeps it out of the
    timing and off smpplib's module-level default client."""

    def next_sequence(self) -> int:
        return 1


def _smpplib_roundtrips() -> dict[str, Callable[[], object]]:
    try:
        from smpplib import smpp
    except ImportError:
        return {}
    client = _SmpplibClient()
    submit = smpp.make_pdu(
        "submit_sm",
        client=client,
        source_addr_ton=5,
        source_addr="Acme",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr="4915112345678",
        registered_delivery=1,
        short_message=SHORT_MESSAGE,
    )
    receipt = smpp.make_pdu(
        "deliver_sm",
        client=client,
        source_addr="4915112345678",
        destination_addr="Acme",
        esm_class=RECEIPT.esm_class,
        short_message=RECEIPT.short_message,
        receipted_message_id="98afc0c60000",
        message_state=int(MessageState.DELIVERED),
    )

    def roundtrip(pdu: Any) -> Callable[[], object]:
        def one() -> object:
            return smpp.parse_pdu(pdu.generate(), client=client)

        return one

    return {"submit_sm": roundtrip(submit), "deliver_sm receipt": roundtrip(receipt)}


def run(ctx: Context) -> ScenarioResult:
    result = ScenarioResult("micro-pdu", ctx.mode.name, "gateway.smpp.pdu in this process, 1 core")
    min_time = ctx.mode.pick(full=1.0, quick=0.25, smoke=0.001)
    max_calls = ctx.mode.pick(full=2_000_000, quick=500_000, smoke=20)
    result.check("submit_sm round trip", decode(encode(SUBMIT)) == SUBMIT)
    result.check("deliver_sm round trip", decode(encode(RECEIPT)) == RECEIPT)
    parsed = parse_receipt(RECEIPT)
    result.check(
        "receipt parses back",
        parsed.message_id == "98afc0c60000" and parsed.state is MessageState.DELIVERED,
        repr(parsed),
    )
    ours = {"submit_sm": _roundtrip(SUBMIT), "deliver_sm receipt": _roundtrip(RECEIPT)}
    theirs = _smpplib_roundtrips()
    for _ in range(ctx.runs):
        for name, fn in ours.items():
            figure = f"{name} encode+decode"
            result.figures.record(
                figure, ops_per_second(fn, min_time=min_time, max_calls=max_calls), "op/s"
            )
            if name in theirs:
                rate = ops_per_second(theirs[name], min_time=min_time, max_calls=max_calls)
                result.figures.record_baseline(figure, rate, "op/s", "(smpplib)")
        result.figures.record(
            "deliver_sm receipt encode+decode+parse_receipt",
            ops_per_second(_receipt_parse, min_time=min_time, max_calls=max_calls),
            "op/s",
        )
        result.runs += 1
    if not theirs:
        result.details["baseline"] = "smpplib is not installed: no baseline"
    return result
