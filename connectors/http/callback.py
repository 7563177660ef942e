"""Carrier callbacks: authentication and parsing of delivery receipts and MO messages.

Sans-IO: a `CallbackRequest` in, receipts or an MO part out, or `CallbackRejected` saying what
to answer (401 for a bad secret or signature, 404 for a path that is neither the receipt nor the
MO path, 400 for a body that is not what the configuration describes). Secrets and signatures
are compared in constant time (`hmac.compare_digest`) and checked before the body is parsed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import parse_qsl

from connectors.http.options import CallbackOptions, MoCallback, ReceiptCallback
from connectors.http.response import lookup
from gateway.connector import CallbackRejected, CallbackRequest, UpstreamReceipt
from gateway.domain import InboundPart, Status
from gateway.text import DATA_CODING, Encoding, UnencodableText
from gateway.text.codecs import codec_for

log = logging.getLogger(__name__)

_LIFECYCLE = {
    "delivered": Status.DELIVERED,
    "undelivered": Status.UNDELIVERED,
    "expired": Status.EXPIRED,
    "rejected": Status.REJECTED,
    "intermediate": Status.SUBMITTED,
}
_SHORT_CODE_MAX = 6  # digits: longer all-digit numbers are E.164 without the `+`
_FIELD_MAX = 64  # carrier ids, states and codes are short; anything longer is malformed
_GSM7 = codec_for(Encoding.GSM7)
_UCS2 = codec_for(Encoding.UCS2)

CallbackKind = Literal["receipt", "mo"]


def unauthorized(detail: str) -> CallbackRejected:
    return CallbackRejected(
        detail, status=401, code="callback.unauthorized", title="Callback not authenticated"
    )


def malformed(detail: str) -> CallbackRejected:
    return CallbackRejected(
        detail, status=400, code="callback.malformed", title="Malformed callback"
    )


def _text_field(data: Any, path: str, what: str, *, limit: int | None = _FIELD_MAX) -> str:
    value = lookup(data, path)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise malformed(f"{what}: no text or number at `{path}`")
    text = str(value).strip()
    if limit is not None and not 0 < len(text) <= limit:
        raise malformed(f"{what}: `{path}` must be 1 to {limit} characters")
    return text


def _number(value: str, *, international_digits: bool) -> str:
    """A carrier's number in the gateway's form: E.164 with `+`; short codes and alphanumeric
    senders as they are."""
    if value.startswith("00") and value[2:].isdigit():
        return "+" + value[2:]
    if international_digits and value.isdigit() and len(value) > _SHORT_CODE_MAX:
        return "+" + value
    return value


class CallbackParser:
    def __init__(self, connector: str, options: CallbackOptions) -> None:
        self.connector = connector
        self.options = options
        self._secret = options.secret.encode() if options.secret else None
        self._signature_secret = (
            options.signature_secret.encode() if options.signature_secret else None
        )
        self._statuses = (
            {w: _LIFECYCLE[s] for w, s in options.receipt.status_map().items()}
            if options.receipt
            else {}
        )

    # -- authentication ---------------------------------------------------------------------

    def authenticate(self, request: CallbackRequest) -> None:
        """Every configured check must pass; raises `CallbackRejected` (401) otherwise."""
        o = self.options
        if self._secret is not None:
            if o.secret_header is not None:
                given = request.headers.get(o.secret_header.lower(), "")
            else:
                given = request.query.get(o.secret_query or "", "")
            if not hmac.compare_digest(given.encode(), self._secret):
                raise unauthorized("missing or wrong callback secret")
        if self._signature_secret is not None:
            header = request.headers.get((o.signature_header or "").lower(), "")
            if not header.startswith(o.signature_prefix):
                raise unauthorized("missing or malformed body signature")
            try:
                given_mac = _decode_signature(header[len(o.signature_prefix) :], o)
            except ValueError:
                raise unauthorized("missing or malformed body signature") from None
            expected = hmac.new(
                self._signature_secret, request.body, getattr(hashlib, o.signature_algorithm)
            ).digest()
            if not hmac.compare_digest(given_mac, expected):
                raise unauthorized("the body signature does not match")

    # -- dispatching by path ------------------------------------------------------------------

    def kind(self, request: CallbackRequest, data: Any) -> CallbackKind:
        """Receipt or MO, by the path after `/v1/callbacks/NAME/`. A carrier with one callback
        URL for both (the two paths configured equal) is told apart by the receipt's id."""
        receipt, mo = self.options.receipt, self.options.mo
        path = request.path.strip("/")
        on_receipt = receipt is not None and receipt.path.strip("/") == path
        on_mo = mo is not None and mo.path.strip("/") == path
        if on_receipt and on_mo:
            assert receipt is not None
            try:
                items = self._items(data, receipt)
            except CallbackRejected:
                items = []
            return "receipt" if items and lookup(items[0], receipt.id) is not None else "mo"
        if on_receipt:
            return "receipt"
        if on_mo:
            return "mo"
        raise CallbackRejected(
            f"no callback at path {path!r} for connector {self.connector!r}",
            status=404,
            code="callback.unknown_path",
            title="Unknown callback path",
        )

    # -- body -----------------------------------------------------------------------------------

    def fields(self, request: CallbackRequest) -> Any:
        """The callback's fields: a JSON value, or a mapping from a form or the query string."""
        fmt = self.options.format
        content_type = request.headers.get("content-type", "").lower()
        if fmt == "auto":
            if "json" in content_type:
                fmt = "json"
            elif "x-www-form-urlencoded" in content_type:
                fmt = "form"
            elif not request.body.strip():
                fmt = "query"
            else:
                fmt = "json"  # an unlabelled body: JSON or nothing we can read
        if fmt == "query":
            return dict(request.query)
        if fmt == "form":
            try:
                pairs = parse_qsl(request.body.decode("utf-8"), keep_blank_values=True)
            except (UnicodeDecodeError, ValueError):
                raise malformed("the form body is not valid UTF-8 url-encoding") from None
            form: dict[str, str] = {}
            for key, value in pairs:
                form.setdefault(key, value)
            return {**request.query, **form} if self.options.format == "auto" else form
        try:
            data = json.loads(request.body)
        except (UnicodeDecodeError, ValueError):
            raise malformed("the body is not JSON") from None
        if not isinstance(data, dict | list):
            raise malformed("the JSON body is neither an object nor a list")
        if isinstance(data, dict) and self.options.format == "auto":
            return {**request.query, **data}
        return data

    @staticmethod
    def _items(data: Any, receipt: ReceiptCallback) -> list[Any]:
        if receipt.items is not None:
            found = lookup(data, receipt.items)
            if not isinstance(found, list):
                raise malformed(f"no list of receipts at `{receipt.items}`")
            return found
        return data if isinstance(data, list) else [data]

    def receipts(self, data: Any) -> list[UpstreamReceipt]:
        receipt = self.options.receipt
        assert receipt is not None
        items = self._items(data, receipt)
        if not items:
            raise malformed("the callback holds no receipt")
        out = []
        for n, item in enumerate(items, start=1):
            if not isinstance(item, Mapping):
                raise malformed(f"receipt {n} is not an object")
            upstream_id = _text_field(item, receipt.id, f"receipt {n} id")
            word = _text_field(item, receipt.status, f"receipt {n} status")
            status = self._statuses.get(word.lower())
            if status is None:
                # Not a verdict we know: the part stays submitted until a known one, or its
                # validity, ends it. Acknowledged, so the carrier does not resend it forever.
                log.warning(
                    "unknown receipt status from %s; kept as intermediate",
                    self.connector,
                    extra={"carrier_status": word},
                )
                status = Status.SUBMITTED
            error_code = None
            if receipt.error_code is not None:
                found = lookup(item, receipt.error_code)
                if found is not None and not isinstance(found, dict | list):
                    error_code = str(found)[:_FIELD_MAX] or None
            out.append(UpstreamReceipt(upstream_id, status, word, error_code))
        return out

    def inbound(self, data: Any, *, received_at: float) -> InboundPart:
        mo = self.options.mo
        assert mo is not None
        if not isinstance(data, Mapping):
            raise malformed("an MO callback is one object")
        return mo_part(data, mo, connector=self.connector, received_at=received_at)


def mo_part(
    data: Mapping[str, Any], mo: MoCallback, *, connector: str, received_at: float
) -> InboundPart:
    """An MO's fields as one whole part, its text in the canonical form the inbound store keeps
    (GSM 7-bit septets when the alphabet carries it, else UTF-16BE)."""
    source = _number(
        _text_field(data, mo.source, "MO sender"), international_digits=mo.international_digits
    )
    destination = _number(
        _text_field(data, mo.destination, "MO recipient"),
        international_digits=mo.international_digits,
    )
    value = lookup(data, mo.text)
    if not isinstance(value, str):
        raise malformed(f"MO text: no text at `{mo.text}`")
    try:
        body, encoding = _GSM7.encode(value), Encoding.GSM7
    except UnencodableText:
        try:
            body, encoding = _UCS2.encode(value), Encoding.UCS2
        except UnencodableText:
            raise malformed("MO text holds lone surrogates") from None
    return InboundPart(
        source=source,
        destination=destination,
        encoding=encoding.value,
        data_coding=DATA_CODING[encoding],
        body=body,
        connector=connector,
        received_at=received_at,
    )


def _decode_signature(value: str, options: CallbackOptions) -> bytes:
    value = value.strip()
    if options.signature_encoding == "hex":
        return bytes.fromhex(value)
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise ValueError(str(exc)) from None
