"""Guards on HTTP connections, below the ASGI app: slowloris, floods and oversized bodies.

uvicorn has no deadline for reading a request: its keep-alive timer runs only between requests
and any octet received cancels it, so a client dribbling a header one octet a second, or a body
slower than it announced, holds its connection (and a request's memory) for ever. This protocol,
uvicorn's httptools protocol with deadlines added, gives each request head ``head_timeout``
seconds from the connection's start or the previous response's end, and each body
``body_timeout`` seconds from the end of its head; refuses a body over ``max_body`` octets
(declared or streamed) before buffering it; and caps open connections in all and per source
address. Refusals are RFC 9457 problem+json with codes from the error catalogue, then close.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gateway.api.errors import PROBLEM_JSON, TYPE_BASE
from gateway.domain.errors import (
    ClientError,
    RequestTimeout,
    RequestTooLarge,
    TooManyConnections,
)

log = logging.getLogger(__name__)

# Seconds a refused request's remaining body is read and dropped before the connection closes.
LINGER = 2.0

__all__ = ["ConnectionGuard", "HttpLimits", "guarded_protocol"]


@dataclass(frozen=True)
class HttpLimits:
    """Seconds and counts; None disables a limit."""

    head_timeout: float | None = 10.0
    body_timeout: float | None = 30.0
    max_body: int | None = 4 * 1024 * 1024
    max_connections: int | None = 2000
    max_connections_per_address: int | None = 200


class ConnectionGuard:
    """Connection counts of one HTTP server (in all and per source address) and what it has
    refused, by reason (for /metrics)."""

    def __init__(self, limits: HttpLimits) -> None:
        self.limits = limits
        self.open = 0
        self.per_address: dict[str, int] = {}
        self.refused: dict[str, int] = {}
        self.on_refused: Callable[[str], None] | None = None

    def admit(self, address: str) -> str | None:
        """Count a new connection in, or return why it is refused."""
        limits = self.limits
        if limits.max_connections is not None and self.open >= limits.max_connections:
            return "max_connections"
        held = self.per_address.get(address, 0)
        if limits.max_connections_per_address is not None and (
            held >= limits.max_connections_per_address
        ):
            return "max_connections_per_address"
        self.open += 1
        self.per_address[address] = held + 1
        return None

    def release(self, address: str) -> None:
        self.open -= 1
        left = self.per_address.get(address, 1) - 1
        if left > 0:
            self.per_address[address] = left
        else:
            self.per_address.pop(address, None)

    def count(self, reason: str) -> None:
        self.refused[reason] = self.refused.get(reason, 0) + 1
        if self.on_refused is not None:
            self.on_refused(reason)


def guarded_protocol(guard: ConnectionGuard) -> type[asyncio.Protocol]:
    """uvicorn's ``http=`` protocol class for a server guarded by ``guard``."""
    return type("GuardedHttpProtocol", (_GuardedProtocol,), {"guard": guard})


def _problem_bytes(error: type[ClientError], detail: str) -> bytes:
    body = json.dumps(
        {
            "type": TYPE_BASE + error.code,
            "title": error.title,
            "status": error.http_status,
            "detail": detail,
            "code": error.code,
        }
    ).encode()
    reason = {408: "Request Timeout", 413: "Content Too Large", 503: "Service Unavailable"}
    head = [
        f"HTTP/1.1 {error.http_status} {reason.get(error.http_status, '')}",
        f"content-type: {PROBLEM_JSON}",
        f"content-length: {len(body)}",
        "connection: close",
    ]
    if error.http_status == 503:
        head.append("retry-after: 1")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class _GuardedProtocol(HttpToolsProtocol):
    guard: ConnectionGuard

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._address = ""
        self._admitted = False
        self._refused = False  # answered by the guard: the parser's further callbacks are moot
        self._deadline: asyncio.TimerHandle | None = None
        self._body_seen = 0

    # -- connection -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._address = self.client[0] if self.client else "?"
        reason = self.guard.admit(self._address)
        if reason is not None:
            log.warning("HTTP connection refused (%s)", reason)
            self._refuse(reason, TooManyConnections, "too many open connections; retry later")
            return
        self._admitted = True
        self._arm(self.guard.limits.head_timeout, self._head_expired)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._admitted:
            self._admitted = False
            self.guard.release(self._address)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # discarded while lingering
        super().data_received(data)

    def eof_received(self) -> None:
        if self._refused:
            self._disarm()
            self.transport.close()

    # -- parser callbacks -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._body_seen = 0
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        self._disarm()
        max_body = self.guard.limits.max_body
        declared = next((v for k, v in self.headers if k == b"content-length"), b"")
        if max_body is not None and declared.isdigit() and int(declared) > max_body:
            self._refuse(
                "too_large",
                RequestTooLarge,
                f"bodies are limited to {max_body} bytes",
                linger=True,
            )
            return
        super().on_headers_complete()
        if not self.parser.should_upgrade():
            self._arm(self.guard.limits.body_timeout, self._body_expired)

    def on_body(self, body: bytes) -> None:
        if self._refused:
            return
        self._body_seen += len(body)
        max_body = self.guard.limits.max_body
        if max_body is not None and self._body_seen > max_body:
            # A chunked body (no length announced) that outgrew the limit.
            self._refuse(
                "too_large",
                RequestTooLarge,
                f"bodies are limited to {max_body} bytes",
                linger=True,
            )
            return
        super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self._refused and not self.transport.is_closing() and self._body_done():
            # The next request's head must arrive in time too (uvicorn's keep-alive timer,
            # also running now, closes a connection that sends nothing at all sooner).
            self._arm(self.guard.limits.head_timeout, self._head_expired)

    # -- deadlines --------------------------------------------------------------------------

    def _body_done(self) -> bool:
        return self.cycle is None or not self.cycle.more_body

    def _arm(self, seconds: float | None, callback: Callable[[], None]) -> None:
        self._disarm()
        if seconds is not None:
            self._deadline = self.loop.call_later(seconds, callback)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _head_expired(self) -> None:
        self._deadline = None
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered; its response re-arms the deadline
        self._refuse("head_timeout", RequestTimeout, "the request head did not arrive in time")

    def _body_expired(self) -> None:
        self._deadline = None
        if self._body_done():
            return
        self._refuse("body_timeout", RequestTimeout, "the request body did not arrive in time")

    def _refuse(
        self, reason: str, error: type[ClientError], detail: str, *, linger: bool = False
    ) -> None:
        """Answer with a problem (unless a response already began) and close. ``linger``: a
        client still sending its body would get a reset instead of our answer if we closed
        with its data unread, so half-close, read and discard for up to LINGER seconds, then
        close (nothing is buffered meanwhile)."""
        self._refused = True
        self._disarm()
        self.guard.count(reason)
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            self.transport.write(_problem_bytes(error, detail))
        elif not cycle.response_started:
            # The app is still waiting for the body: it is told the client went away (its
            # answer, if any, is dropped) and the client gets ours.
            cycle.disconnected = True
            cycle.message_event.set()
            self.transport.write(_problem_bytes(error, detail))
        if linger and self.transport.can_write_eof():
            self.transport.write_eof()
            self._deadline = self.loop.call_later(LINGER, self.transport.close)
            return
        self.transport.close()
