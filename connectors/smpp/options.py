"""What a carrier wants on the wire, from the connector's options: bind types, addresses,
data_coding per encoding, TLS. Validated once at start, so a bad value stops the gateway with a
message naming the option instead of failing at the first submit.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.smpp.address import Ton, to_smpp
from gateway.text import DATA_CODING, Encoding

# `trx`: every bind is a transceiver. `tx+rx`: transmitters carry the submits and separate
# receivers take receipts and MO (carriers that do not offer transceivers, SMPP 3.3 style).
BIND_MODES = ("trx", "tx+rx")

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def flag(options: Mapping[str, Any], name: str, default: bool) -> bool:
    """A boolean option from TOML (a bool) or the upstream URL (a string)."""
    value = options.get(name, default)
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{name} must be true or false, not {value!r}")


def _octet(options: Mapping[str, Any], name: str) -> int | None:
    value = options.get(name)
    if value is None or value == "":
        return None
    try:
        number = int(str(value), 0)  # 5, "5" or "0x05"
    except ValueError:
        number = -1
    if not 0 <= number <= 0xFF:
        raise ValueError(f"{name} must be an octet (0-255), not {value!r}")
    return number


@dataclass(frozen=True, slots=True)
class AddressPlan:
    """TON/NPI for source and destination. Unset fields follow the address: an E.164 number is
    international/ISDN, digits alone unknown/ISDN, an alphanumeric sender TON 5 (§5.2.5);
    a set field wins for every address except an alphanumeric sender, which only TON 5 carries."""

    source_ton: int | None = None
    source_npi: int | None = None
    dest_ton: int | None = None
    dest_npi: int | None = None

    @classmethod
    def parse(cls, options: Mapping[str, Any]) -> AddressPlan:
        return cls(
            *(_octet(options, n) for n in ("source_ton", "source_npi", "dest_ton", "dest_npi"))
        )

    def source(self, number: str) -> tuple[str, int, int]:
        address, ton, npi = to_smpp(number)
        if ton == Ton.ALPHANUMERIC:
            return address, ton, npi if self.source_npi is None else self.source_npi
        return (
            address,
            ton if self.source_ton is None else self.source_ton,
            npi if self.source_npi is None else self.source_npi,
        )

    def destination(self, number: str) -> tuple[str, int, int]:
        address, ton, npi = to_smpp(number)
        return (
            address,
            ton if self.dest_ton is None else self.dest_ton,
            npi if self.dest_npi is None else self.dest_npi,
        )


def data_codings(options: Mapping[str, Any]) -> dict[str, int]:
    """This carrier's data_coding overrides by encoding, from `data_coding_<encoding>` options
    (e.g. `data_coding_gsm7 = 1` for an SMSC whose default alphabet is not GSM 7-bit but which
    takes GSM 7-bit text as IA5). Encodings without one keep the SMPP 3.4 value (§5.2.19)."""
    table = {}
    for encoding in Encoding:
        value = _octet(options, f"data_coding_{encoding.value}")
        if value is not None:
            table[encoding.value] = value
    return table


def carrier_data_coding(overrides: Mapping[str, int], encoding: str, data_coding: int) -> int:
    """The data_coding to send: the carrier's for the encoding when the part has the standard
    one; a part whose sender chose another value (a message class, flash: 0x10, 0xF0) keeps it."""
    override = overrides.get(encoding)
    if override is None or data_coding != DATA_CODING.get(Encoding(encoding)):
        return data_coding
    return override


def tls_context(options: Mapping[str, Any]) -> ssl.SSLContext | None:
    """A client TLS context when `tls` is on: the system's CAs or `tls_ca` (a PEM file), the
    carrier's name checked unless `tls_verify` is off (for a carrier's self-signed test SMSC,
    never by default), TLS 1.2 at least."""
    if not flag(options, "tls", False):
        return None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=options.get("tls_ca"))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if not flag(options, "tls_verify", True):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def bind_mode(options: Mapping[str, Any]) -> str:
    mode = str(options.get("bind_mode", "trx")).lower()
    if mode not in BIND_MODES:
        raise ValueError(f"bind_mode must be trx or tx+rx, not {mode!r}")
    return mode
