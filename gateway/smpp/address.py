"""SMPP addresses (SMPP 3.4 §5.2.5-6: TON and NPI) and the gateway's number format.

The gateway writes numbers as E.164 with a `+` (`+4915112345678`), short codes as digits and
alphanumeric sender IDs as they are; on the wire that is (address, TON, NPI).
"""

from __future__ import annotations

from enum import IntEnum


class Ton(IntEnum):
    UNKNOWN = 0x00
    INTERNATIONAL = 0x01
    NATIONAL = 0x02
    NETWORK_SPECIFIC = 0x03
    SUBSCRIBER_NUMBER = 0x04
    ALPHANUMERIC = 0x05
    ABBREVIATED = 0x06


class Npi(IntEnum):
    UNKNOWN = 0x00
    ISDN = 0x01  # E.163/E.164


def to_smpp(number: str) -> tuple[str, int, int]:
    """(address, TON, NPI) for a number or sender ID in the gateway's format."""
    if number.startswith("+") and number[1:].isdigit():
        return number[1:], Ton.INTERNATIONAL, Npi.ISDN
    if number.isdigit():
        return number, Ton.UNKNOWN, Npi.ISDN
    return number, Ton.ALPHANUMERIC, Npi.UNKNOWN


def from_smpp(address: str, ton: int) -> str:
    """An address from the wire in the gateway's format: international numbers get their `+`;
    short codes and alphanumerics stay as they are."""
    if ton == Ton.INTERNATIONAL and address.isdigit():
        return "+" + address
    return address
