"""From a stored part to the values a request template needs, and to the request itself.

Sans-IO: no client, no clock. The store keeps a part in canonical form (GSM 7-bit as unpacked
septets, UCS-2 as UTF-16BE, plus the UDH that intake or an SMPP route gave it); an HTTP carrier
wants text, so the body is decoded here, with the national shift tables its UDH announces.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.http.options import HttpOptions
from connectors.http.template import Template, Value
from gateway.domain import PartRecord, public_part_id
from gateway.text import Encoding, Iei, decode_body, parse_udh


class PartNotRenderable(ValueError):  # noqa: N818 - a verdict on the part, answered as such
    """The part cannot be expressed as this carrier's request (permanent: resending will not
    change it). `raw_code` is what the part's error code becomes."""

    def __init__(self, detail: str, *, raw_code: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.raw_code = raw_code


@dataclass(frozen=True, slots=True)
class RenderedRequest:
    method: str
    url: str
    headers: Mapping[str, str]
    params: Mapping[str, str] | None = None
    json: Any = None
    form: Mapping[str, str] | None = None


def _udh_fields(udh: bytes) -> tuple[bytes, int | None, int | None]:
    """(the UDH holding only its concatenation IE, national locking, national single).

    The national shift IEs only say how the septets are to be read; once the text is decoded
    they mean nothing to the carrier, which encodes the text itself. The concatenation IE is
    what lets the handset join segments, so that is what `{udh_hex}` carries."""
    if not udh:
        return b"", None, None
    try:
        elements, _ = parse_udh(udh)
    except ValueError as exc:
        raise PartNotRenderable(f"the part's UDH is malformed: {exc}", raw_code="udh") from None
    concat = b""
    locking = single = None
    for element in elements:
        if element.iei in (Iei.CONCAT_8, Iei.CONCAT_16):
            concat = bytes((element.iei, len(element.data))) + element.data
        elif element.iei == Iei.NATIONAL_LOCKING_SHIFT and len(element.data) == 1:
            locking = element.data[0]
        elif element.iei == Iei.NATIONAL_SINGLE_SHIFT and len(element.data) == 1:
            single = element.data[0]
    return (bytes((len(concat),)) + concat if concat else b""), locking, single


def part_values(
    part: PartRecord, *, uses_text: bool, callback_url: str | None, segments: str
) -> dict[str, Value]:
    """The placeholder values for one part. `uses_text`: the template asks for `{text}`, so a
    part with no text (binary data) cannot be sent through it."""
    udh, locking, single = _udh_fields(part.udh)
    if udh and segments == "refuse":
        raise PartNotRenderable(
            "the part is one segment of a longer message and this connector is set to refuse "
            'segments (segments = "refuse")',
            raw_code="segment_refused",
        )
    try:
        encoding = Encoding(part.encoding)
    except ValueError:
        raise PartNotRenderable(
            f"unknown encoding {part.encoding!r}", raw_code="encoding"
        ) from None
    text = decode_body(encoding, part.payload, locking=locking, single=single)
    if text is None and uses_text:
        raise PartNotRenderable(
            "binary data has no {text}; this template can send text only", raw_code="binary"
        )
    return {
        "to": part.destination,
        "to_digits": part.destination.removeprefix("+"),
        "from": part.source,
        "text": text or "",
        "message_id": part.message_id,
        "part_id": public_part_id(part.message_id, part.seq, part.total),
        "seq": part.seq + 1,
        "total": part.total,
        "encoding": encoding.value,
        "data_coding": part.data_coding,
        "udh_hex": udh.hex(),
        "hex": part.payload.hex(),
        "callback_url": callback_url or "",
    }


def render_request(
    part: PartRecord,
    *,
    options: HttpOptions,
    template: Template,
    callback_url: str | None,
) -> RenderedRequest:
    """The carrier request for one part, or `PartNotRenderable`."""
    values = part_values(
        part,
        uses_text="text" in template.placeholders,
        callback_url=callback_url,
        segments=options.segments,
    )
    body = template.render_body(values)
    url = template.render_url(values)
    headers = dict(options.headers)
    if options.body == "json":
        return RenderedRequest(options.method, url, headers, json=body)
    if options.body == "form":
        return RenderedRequest(options.method, url, headers, form=body)
    return RenderedRequest(options.method, url, headers, params=body)
