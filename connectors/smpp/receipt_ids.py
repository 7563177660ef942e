"""The carrier's message id as the submit_sm_resp gives it and as its receipts repeat it.

SMPP 3.4 says the receipt's id is the submit_sm_resp's message_id (§4.4.2, Appendix B), but
carriers differ: some answer the submit in decimal and write the receipt in hex (or the
reverse), some change the case of hex digits or UUIDs between the two. Receipts are matched
to parts by exact id (gateway/receipts.py, the store's index), so a connector set for such a
carrier rewrites both ids into one canonical form before either leaves the connector: the id
stored for the part and the id the receipt reports are then the same string. Pure functions
and one bounded in-memory index; no I/O.
"""

from __future__ import annotations

from collections import OrderedDict
from enum import StrEnum

__all__ = ["ReceiptIdForm", "RecentIds", "receipt_id", "receipt_id_candidates", "submit_id"]

_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
# SMPP 3.4 §5.2.23: message_id is a C-Octet String of at most 65 octets, 64 characters. A longer
# "id" (from a receipt's free text) is not converted: it cannot be one, and str() of a huge
# int raises (Python's int/str conversion limit) instead of answering.
MAX_ID_LENGTH = 64


class ReceiptIdForm(StrEnum):
    """How a carrier's receipts write the id its submit_sm_resp gave (option `receipt_id`)."""

    SAME = "same"  # byte for byte: the standard, and the default
    IGNORE_CASE = "ignore_case"  # hex or UUID ids whose letters change case
    HEX_TO_DEC = "hex_to_dec"  # decimal in the submit_sm_resp, hex in the receipt
    DEC_TO_HEX = "dec_to_hex"  # hex in the submit_sm_resp, decimal in the receipt
    AUTO = "auto"  # any of the above, chosen per receipt by the ids this connector was given

    @classmethod
    def parse(cls, value: object) -> ReceiptIdForm:
        try:
            return cls(str(value).lower())
        except ValueError:
            known = ", ".join(f.value for f in cls)
            raise ValueError(f"receipt_id must be one of {known}, not {value!r}") from None


def _is_decimal(value: str) -> bool:
    return len(value) <= MAX_ID_LENGTH and value.isascii() and value.isdigit()


def _is_hex(value: str) -> bool:
    return 0 < len(value) <= MAX_ID_LENGTH and all(c in _HEX_DIGITS for c in value)


def _hex_to_dec(value: str) -> str | None:
    return str(int(value, 16)) if _is_hex(value) else None


def _dec_to_hex(value: str) -> str | None:
    return format(int(value), "x") if _is_decimal(value) else None


def submit_id(form: ReceiptIdForm, value: str) -> str:
    """The id to store for a part, from the submit_sm_resp's message_id.

    In the converting forms the canonical spelling is the one a conversion produces (decimal
    without leading zeros, lower-case hex without leading zeros), so both sides agree however
    the carrier pads or cases its ids. An id that does not fit the declared form is kept as it
    came: matching it exactly is still the best chance."""
    value = value.strip()
    match form:
        case ReceiptIdForm.IGNORE_CASE:
            return value.lower()
        case ReceiptIdForm.HEX_TO_DEC:
            return str(int(value)) if _is_decimal(value) else value
        case ReceiptIdForm.DEC_TO_HEX:
            return format(int(value, 16), "x") if _is_hex(value) else value
        case _:
            return value


def receipt_id(form: ReceiptIdForm, value: str) -> str:
    """The receipt's id rewritten into the form ``submit_id`` stored (not for ``AUTO``, which
    needs ``RecentIds``)."""
    value = value.strip()
    match form:
        case ReceiptIdForm.IGNORE_CASE:
            return value.lower()
        case ReceiptIdForm.HEX_TO_DEC:
            return _hex_to_dec(value) or value
        case ReceiptIdForm.DEC_TO_HEX:
            return _dec_to_hex(value) or value
        case _:
            return value


def receipt_id_candidates(value: str) -> list[str]:
    """What a receipt's id may stand for, most literal first: as written, then in lower case,
    then read as hex written in decimal, then as decimal written in hex. A pure-digit id is
    valid hex too, which is why the literal readings come first."""
    value = value.strip()
    readings = (value, value.lower(), _hex_to_dec(value), _dec_to_hex(value))
    return list(dict.fromkeys(r for r in readings if r is not None))


class RecentIds:
    """The ids this connector's submit_sm_resps gave lately, for ``AUTO``: a receipt's id is
    rewritten to the first of its candidate readings that was actually given, so a carrier
    that mixes forms is matched without declaring which. Bounded (oldest forgotten first); it
    lives in this process only, so a receipt that reaches another node or outlives a restart
    is reported as written and matched only if it is literal."""

    def __init__(self, limit: int = 200_000) -> None:
        self._limit = limit
        # lower-cased id -> id as given: case differences are one of the forms AUTO absorbs.
        self._ids: OrderedDict[str, str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, given: str) -> None:
        key = given.lower()
        self._ids[key] = given
        self._ids.move_to_end(key)
        if len(self._ids) > self._limit:
            self._ids.popitem(last=False)

    def resolve(self, value: str) -> str:
        """The given id ``value`` stands for, or ``value`` as written when none matches."""
        for candidate in receipt_id_candidates(value):
            given = self._ids.get(candidate.lower())
            if given is not None:
                return given
        return value.strip()
