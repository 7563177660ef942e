from __future__ import annotations

import pytest

from gateway.smpp.address import Npi, Ton, from_smpp, to_smpp
from gateway.smpp.tlv import Tlv, sar_of


@pytest.mark.parametrize(
    ("number", "wire"),
    [
        ("+4915112345678", ("4915112345678", Ton.INTERNATIONAL, Npi.ISDN)),
        ("12345", ("12345", Ton.UNKNOWN, Npi.ISDN)),
        ("Acme Ltd", ("Acme Ltd", Ton.ALPHANUMERIC, Npi.UNKNOWN)),
    ],
)
def test_numbers_to_wire_and_back(number: str, wire: tuple[str, int, int]) -> None:
    assert to_smpp(number) == wire
    assert from_smpp(wire[0], wire[1]) == number


def test_sar_needs_all_three_tlvs() -> None:
    full = {Tlv.SAR_MSG_REF_NUM: 300, Tlv.SAR_TOTAL_SEGMENTS: 3, Tlv.SAR_SEGMENT_SEQNUM: 2}
    assert sar_of(full) == (300, 3, 2)
    assert sar_of({Tlv.SAR_MSG_REF_NUM: 1, Tlv.SAR_TOTAL_SEGMENTS: 2}) is None
    assert sar_of({}) is None
