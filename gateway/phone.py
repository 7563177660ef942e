"""Phone numbers: normalisation to E.164 and masking for logs (libphonenumber data)."""

from __future__ import annotations

import functools

import phonenumbers

from gateway.domain.errors import InvalidNumber


def normalize_e164(raw: str) -> str:
    """`raw` as E.164 (`+4915112345678`), or `InvalidNumber` saying why not."""
    valid = _valid_e164(raw)
    if valid is None:
        _explain_invalid(raw)
    return valid  # type: ignore[return-value]


@functools.lru_cache(maxsize=65_536)
def _valid_e164(raw: str) -> str | None:
    """Cached: bulk and OTP traffic repeats numbers, and libphonenumber's validation is the
    most expensive step of intake."""
    try:
        return _normalize(raw)
    except InvalidNumber:
        return None


def _explain_invalid(raw: str) -> None:
    _normalize(raw)
    raise AssertionError("unreachable")  # pragma: no cover


def _normalize(raw: str) -> str:
    """`raw` as E.164 (`+4915112345678`), or `InvalidNumber` saying why not.

    International format is required (a leading `+` or `00`): the gateway serves many countries
    and guessing a default region turns a typo into a message to the wrong country.
    """
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    if not text.startswith("+"):
        raise InvalidNumber(f"{mask(raw)} is not in international format (+<country><number>)")
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidNumber(f"{mask(raw)} is not a phone number: {exc._msg}") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidNumber(f"{mask(raw)} is not a valid number for its country")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def same_sender(a: str, b: str) -> bool:
    """Whether two sender addresses name one sender, whatever the type of number they came
    with: "+4915..." (international) and "4915..." (unknown) are one number."""
    return a.lstrip("+") == b.lstrip("+")


def mask(number: str) -> str:
    """Keep the country-code end and the last two digits: enough to correlate, not to dial."""
    digits = number.strip()
    if len(digits) <= 6:
        return "*" * len(digits)
    return digits[:4] + "*" * (len(digits) - 6) + digits[-2:]
