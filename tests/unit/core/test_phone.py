from __future__ import annotations

import pytest

from gateway.domain.errors import InvalidNumber
from gateway.phone import mask, normalize_e164


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+4915112345678", "+4915112345678"),
        ("004915112345678", "+4915112345678"),
        (" +44 7911 123456 ", "+447911123456"),
        ("+1 (201) 555-0123", "+12015550123"),
    ],
)
def test_international_numbers_normalise_to_e164(raw: str, e164: str) -> None:
    assert normalize_e164(raw) == e164


@pytest.mark.parametrize("raw", ["015112345678", "+49", "+999123456", "hello", ""])
def test_invalid_numbers_are_refused_with_a_reason(raw: str) -> None:
    with pytest.raises(InvalidNumber) as info:
        normalize_e164(raw)
    assert "15112345678" not in info.value.detail  # the error never echoes the full number


def test_mask_keeps_only_prefix_and_last_digits() -> None:
    assert mask("+4915112345678") == "+491********78"
