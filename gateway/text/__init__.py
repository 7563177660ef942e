"""Text engine: GSM 7-bit and national shift tables (3GPP TS 23.038), encoding choice and
segmentation (TS 23.040), SMPP short_message rendering and parsing, inbound reassembly.

Pure functions on str and bytes: no I/O, no clock, no imports from the rest of the gateway.
"""

from gateway.text.codecs import (
    DATA_CODING,
    Encoding,
    UnencodableText,
    decode_body,
    decode_gsm7,
    encoding_for_data_coding,
)
from gateway.text.encoding import encode_binary, encode_text
from gateway.text.gsm7 import pack_septets, unpack_septets
from gateway.text.national import DEFAULT_NATIONAL, NationalLanguage
from gateway.text.reassembly import ReassembledMessage, Reassembler
from gateway.text.references import ConcatReferenceAllocator, ConcatReferencesExhaustedError
from gateway.text.segment import EncodedText, Segment, body_units, capacity
from gateway.text.short_message import (
    ESM_CLASS_UDHI,
    Concatenation,
    DecodedPart,
    RenderedPart,
    decode_short_message,
    render_short_message,
)
from gateway.text.transliteration import transliterate
from gateway.text.udh import Iei, InformationElement, concat_udh, parse_udh

__all__ = [
    "DATA_CODING",
    "DEFAULT_NATIONAL",
    "ESM_CLASS_UDHI",
    "ConcatReferenceAllocator",
    "ConcatReferencesExhaustedError",
    "Concatenation",
    "DecodedPart",
    "EncodedText",
    "Encoding",
    "Iei",
    "InformationElement",
    "NationalLanguage",
    "ReassembledMessage",
    "Reassembler",
    "RenderedPart",
    "Segment",
    "UnencodableText",
    "body_units",
    "capacity",
    "concat_udh",
    "decode_body",
    "decode_gsm7",
    "decode_short_message",
    "encode_binary",
    "encode_text",
    "encoding_for_data_coding",
    "pack_septets",
    "parse_udh",
    "render_short_message",
    "transliterate",
    "unpack_septets",
]
