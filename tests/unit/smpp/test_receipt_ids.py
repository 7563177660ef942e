"""The carrier's id in the submit_sm_resp and in its receipts, brought to one form."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.smpp import SmppConnector
from connectors.smpp.receipt_ids import (
    ReceiptIdForm,
    RecentIds,
    receipt_id,
    receipt_id_candidates,
    submit_id,
)


@pytest.mark.parametrize(
    ("form", "response", "receipt"),
    [
        (ReceiptIdForm.HEX_TO_DEC, "2684354560", "a0000000"),
        (ReceiptIdForm.HEX_TO_DEC, "2684354560", "A0000000"),
        (ReceiptIdForm.HEX_TO_DEC, "0002684354560", "00A0000000"),  # padded on both sides
        (ReceiptIdForm.DEC_TO_HEX, "a0000000", "2684354560"),
        (ReceiptIdForm.DEC_TO_HEX, "A0000000", "2684354560"),
        (ReceiptIdForm.DEC_TO_HEX, "00a0000000", "2684354560"),
        (
            ReceiptIdForm.IGNORE_CASE,
            "6f1c0b52-4e4f-4c4b-9d11-0d9a1e0b7c3a",
            "6F1C0B52-4E4F-4C4B-9D11-0D9A1E0B7C3A",
        ),
        (ReceiptIdForm.IGNORE_CASE, "ABCDEF", "abcdef"),
        (ReceiptIdForm.SAME, "Ab12", "Ab12"),
        (ReceiptIdForm.SAME, " Ab12", "Ab12 "),  # stray blanks are not part of an id
    ],
)
def test_response_and_receipt_meet_in_one_form(
    form: ReceiptIdForm, response: str, receipt: str
) -> None:
    assert submit_id(form, response) == receipt_id(form, receipt)


def test_same_keeps_case_where_case_may_matter() -> None:
    assert submit_id(ReceiptIdForm.SAME, "aB3") != receipt_id(ReceiptIdForm.SAME, "Ab3")


@pytest.mark.parametrize(
    ("form", "value"),
    [
        (ReceiptIdForm.HEX_TO_DEC, "not-hex-zz"),
        (ReceiptIdForm.HEX_TO_DEC, ""),
        (ReceiptIdForm.DEC_TO_HEX, "12ab"),
        (ReceiptIdForm.DEC_TO_HEX, "٣٤"),  # Arabic-Indic digits: isdigit() but not an id
        (ReceiptIdForm.HEX_TO_DEC, "f" * 5000),  # longer than any message_id (§5.2.23)
        (ReceiptIdForm.DEC_TO_HEX, "9" * 5000),
    ],
)
def test_an_id_outside_the_declared_form_is_kept_as_it_came(
    form: ReceiptIdForm, value: str
) -> None:
    assert receipt_id(form, value) == value
    assert RecentIds().resolve(value) == value


@given(st.integers(min_value=0, max_value=2**64))
def test_hex_and_decimal_round_trip(n: int) -> None:
    assert submit_id(ReceiptIdForm.HEX_TO_DEC, str(n)) == receipt_id(
        ReceiptIdForm.HEX_TO_DEC, format(n, "X")
    )
    assert submit_id(ReceiptIdForm.DEC_TO_HEX, format(n, "x")) == receipt_id(
        ReceiptIdForm.DEC_TO_HEX, str(n)
    )


def test_candidates_put_the_literal_readings_first() -> None:
    assert receipt_id_candidates("1234") == ["1234", str(0x1234), format(1234, "x")]
    assert receipt_id_candidates("A0") == ["A0", "a0", "160"]
    assert receipt_id_candidates("x-y") == ["x-y"]


def test_auto_resolves_each_form_to_the_id_that_was_given() -> None:
    recent = RecentIds()
    token = str(uuid.uuid4())
    for issued in ("2684354560", "A0000001", token, "1234"):
        recent.add(issued)
    assert recent.resolve("a0000000") == "2684354560"  # hex receipt, decimal response
    assert recent.resolve(str(0xA0000001)) == "A0000001"  # decimal receipt, hex response
    assert recent.resolve(token.upper()) == token
    assert recent.resolve("1234") == "1234"  # literal first, though it is valid hex too
    assert recent.resolve("ffff") == "ffff"  # nothing given: reported as written


def test_auto_forgets_the_oldest_beyond_its_bound() -> None:
    recent = RecentIds(limit=2)
    for issued in ("10", "11", "12"):
        recent.add(issued)
    assert len(recent) == 2
    assert recent.resolve("a") == "a"  # 10 was forgotten
    assert recent.resolve("b") == "11"


def _connector(**options: object) -> SmppConnector:
    return SmppConnector(name="c", options={"host": "127.0.0.1", "port": 1, **options})


def test_connector_reads_its_receipt_options() -> None:
    connector = _connector(receipt_id="HEX_TO_DEC", receipts_for="last")
    assert connector.receipt_id is ReceiptIdForm.HEX_TO_DEC
    assert connector.receipts_for == "last"
    default = _connector()
    assert default.receipt_id is ReceiptIdForm.SAME and default.receipts_for == "all"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"receipt_id": "hex"}, "receipt_id must be one of same, ignore_case"),
        ({"receipts_for": "first"}, "receipts_for must be all or last"),
    ],
)
def test_connector_refuses_an_unknown_receipt_option(
    options: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        _connector(**options)
