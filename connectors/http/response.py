"""Classifying a carrier's answer to a submit. Sans-IO: status, headers and body in, outcome out.

| answer | outcome |
|---|---|
| a success status (2xx by default) whose body carries an id | accepted, with that id |
| 429, or a `throttle_codes` code | throttled: back to the queue, no attempt counted, rate lowered |
| 5xx, 408, a `temporary_codes` code, a timeout or a connection error | temporary: retried |
| any other status, or a success status without an id | permanent: the part is rejected |

The carrier's own error code (from `error_code` / `error_regex`) is kept as the part's raw code;
without one it is `http_<status>`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from connectors.http.options import ResponseOptions
from gateway.connector import SubmitOutcome
from gateway.domain import UpstreamError

_DETAIL_MAX = 200  # carrier error texts are kept, bounded: they go into the part's record
_MISSING = object()


def lookup(data: Any, path: str) -> Any:
    """The value at a dotted path (`messages.0.id`), or None. Digits index lists."""
    current = data
    for key in path.split("."):
        if isinstance(current, Mapping):
            current = current.get(key, _MISSING)
        elif isinstance(current, list) and key.lstrip("-").isdigit():
            index = int(key)
            current = current[index] if -len(current) <= index < len(current) else _MISSING
        else:
            return None
        if current is _MISSING:
            return None
    return current


def _scalar(value: Any) -> str | None:
    """A JSON scalar as text; containers and null are not an id or a code."""
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return str(value).lower()
    text = str(value).strip()
    return text or None


def _json(body: bytes) -> Any:
    stripped = body.lstrip()
    if not stripped.startswith((b"{", b"[")):
        return None
    try:
        return json.loads(stripped)
    except ValueError:
        return None


class ResponseReader:
    """Reads ids and error codes out of answers as the options describe."""

    def __init__(self, options: ResponseOptions) -> None:
        self.options = options
        self._id_regex = re.compile(options.id_regex) if options.id_regex else None
        self._error_regex = re.compile(options.error_regex) if options.error_regex else None
        self._temporary = frozenset(options.temporary_codes)
        self._throttle = frozenset(options.throttle_codes)

    def _success(self, status: int) -> bool:
        if self.options.success_statuses is None:
            return 200 <= status <= 299
        return status in self.options.success_statuses

    def carrier_id(self, data: Any, text: str) -> str | None:
        if self.options.id is not None and data is not None:
            found = _scalar(lookup(data, self.options.id))
            if found:
                return found
        if self._id_regex is not None:
            match = self._id_regex.search(text)
            if match and match.group(1):
                return match.group(1)
        return None

    def carrier_error(self, data: Any, text: str) -> tuple[str | None, str | None]:
        """(code, text) of the carrier's error, each None when the answer has none."""
        code = message = None
        if data is not None:
            if self.options.error_code:
                code = _scalar(lookup(data, self.options.error_code))
            if self.options.error_text:
                message = _scalar(lookup(data, self.options.error_text))
        if code is None and self._error_regex is not None:
            match = self._error_regex.search(text)
            if match and match.group(1):
                code = match.group(1)
        return code, message

    def classify(self, status: int, headers: Mapping[str, str], body: bytes) -> SubmitOutcome:
        """The outcome of one answered submit. `headers` are looked up in lower case."""
        data = _json(body)
        text = body.decode("utf-8", errors="replace")
        if self._success(status):
            carrier_id = self.carrier_id(data, text)
            code, message = self.carrier_error(data, text)
            if carrier_id is not None and (
                code is None or (code not in self._temporary and code not in self._throttle)
            ):
                # An id beside an error field that holds a non-error value (`"error": 0`, say):
                # the id wins, the carrier took the part.
                return SubmitOutcome(upstream_id=carrier_id)
            if code is None:
                return _error(f"carrier answered {status} without an id", "no_id", temporary=False)
            return self._carrier_error(status, code, message, headers, default_temporary=False)
        code, message = self.carrier_error(data, text)
        if status == 429:
            return _throttled(status, code or "http_429", message, headers)
        temporary = status >= 500 or status == 408
        return self._carrier_error(
            status, code or f"http_{status}", message, headers, default_temporary=temporary
        )

    def _carrier_error(
        self,
        status: int,
        code: str,
        message: str | None,
        headers: Mapping[str, str],
        *,
        default_temporary: bool,
    ) -> SubmitOutcome:
        if code in self._throttle:
            return _throttled(status, code, message, headers)
        temporary = default_temporary or code in self._temporary
        detail = f"carrier answered {status}" + (f": {message}" if message else f" ({code})")
        return _error(detail, code, temporary=temporary)


def retry_after(headers: Mapping[str, str]) -> str | None:
    """The Retry-After value as the carrier sent it (seconds or an HTTP date), if any."""
    value = headers.get("retry-after", "").strip()
    return value[:64] or None


def _throttled(
    status: int, code: str, message: str | None, headers: Mapping[str, str]
) -> SubmitOutcome:
    # Retry-After is a hint for the operator: the dispatcher's AIMD decides the pace, and the
    # rate it recovers at does not wait for one part's header.
    hint = retry_after(headers)
    detail = f"carrier throttled us ({status})"
    if hint:
        detail += f", Retry-After: {hint}"
    if message:
        detail += f": {message}"
    return SubmitOutcome(
        error=UpstreamError(detail[:_DETAIL_MAX], raw_code=code, temporary=True, throttled=True)
    )


def _error(detail: str, code: str, *, temporary: bool) -> SubmitOutcome:
    return SubmitOutcome(
        error=UpstreamError(detail[:_DETAIL_MAX], raw_code=code[:64], temporary=temporary)
    )


def transport_failure(kind: str, detail: str) -> SubmitOutcome:
    """A request that got no answer (timeout, refused or reset connection, TLS failure): the
    carrier may be back soon, so it is temporary; the circuit breaker handles a long outage."""
    return _error(detail, kind, temporary=True)
