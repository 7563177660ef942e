"""HTTP carrier connector: sends parts to a carrier's HTTP API described in configuration.

The request is rendered from a template (connectors/http/render.py), the answer classified
(response.py), and the carrier's receipts and MOs arrive as callbacks on the gateway's API
(callback.py), committed before they are answered 200. One pooled `httpx.AsyncClient` with
keep-alive carries every request; `concurrency` bounds the requests in flight (the dispatcher
runs that many workers for this connector) and `timeout` bounds each one end to end.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from connectors.http.callback import CallbackParser
from connectors.http.options import parse_options
from connectors.http.render import PartNotRenderable, render_request
from connectors.http.response import ResponseReader, transport_failure
from gateway.connector import (
    BindHealth,
    CallbackRejected,
    CallbackRequest,
    CallbackResponse,
    ConnectorEvents,
    SubmitOutcome,
    UpstreamReceipt,
)
from gateway.domain import PartRecord, UpstreamError
from gateway.groupcommit import GroupCommit
from gateway.text import Concatenation

log = logging.getLogger(__name__)

MAX_RESPONSE_BODY = 64 * 1024  # a submit answer is an id or an error: more is not read


class HttpConnector:
    def __init__(self, *, name: str, options: Mapping[str, Any]) -> None:
        self.name = name
        self.options, self._template = parse_options(name, options)
        # An HTTP API takes whole texts: intake keeps a long text as one part (see README).
        self.concatenation = Concatenation(self.options.concatenation)
        self._reader = ResponseReader(self.options.response)
        callback = self.options.callback
        self._callbacks = CallbackParser(name, callback) if callback is not None else None
        self._callback_url: str | None = None
        if self.options.callback_base_url is not None:
            path = callback.receipt.path if callback and callback.receipt else ""
            self._callback_url = f"{self.options.callback_base_url}/v1/callbacks/{name}" + (
                f"/{path.strip('/')}" if path.strip("/") else ""
            )
        self._client: httpx.AsyncClient | None = None
        self._events: ConnectorEvents | None = None
        self._in_flight = 0
        self._last_error = ""
        self._receipts: GroupCommit[UpstreamReceipt, None] = GroupCommit(self._commit_receipts)

    @property
    def capacity(self) -> int:
        return self.options.concurrency

    async def start(self, events: ConnectorEvents) -> None:
        o = self.options
        verify: ssl.SSLContext | bool = True
        if o.ca_file is not None:
            verify = ssl.create_default_context(cafile=o.ca_file)
        elif not o.verify:
            verify = False
            log.warning(
                "connector %s: TLS certificate verification is OFF (verify = false)", self.name
            )
        self._client = httpx.AsyncClient(
            verify=verify,
            timeout=httpx.Timeout(o.timeout),
            limits=httpx.Limits(
                max_connections=o.concurrency,
                max_keepalive_connections=o.concurrency,
                keepalive_expiry=30.0,
            ),
            follow_redirects=False,  # a redirected POST is a carrier misconfiguration to see
        )
        self._events = events

    async def stop(self) -> None:
        """The dispatcher has finished its submits before connectors stop; receipts being
        committed finish first, then the pool is closed."""
        await self._receipts.drain()
        self._events = None  # callbacks from now on are answered 503: the carrier retries
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def health(self) -> list[BindHealth]:
        # Always "up": the dispatcher's circuit breaker takes a failing carrier out of rotation
        # and probes it back; a connector that declared itself down would never be probed.
        return [
            BindHealth(
                name=self.name, state="up", in_flight=self._in_flight, detail=self._last_error
            )
        ]

    async def submit(self, part: PartRecord) -> SubmitOutcome:
        client = self._client
        if client is None:
            return transport_failure("not_started", f"connector {self.name} is not running")
        try:
            rendered = render_request(
                part, options=self.options, template=self._template, callback_url=self._callback_url
            )
            request = client.build_request(
                rendered.method,
                rendered.url,
                headers=dict(rendered.headers),
                params=dict(rendered.params) if rendered.params is not None else None,
                json=rendered.json,
                data=dict(rendered.form) if rendered.form is not None else None,
            )
        except PartNotRenderable as exc:
            return self._failed(
                SubmitOutcome(
                    error=UpstreamError(exc.detail, raw_code=exc.raw_code, temporary=False)
                )
            )
        except httpx.InvalidURL as exc:
            return self._failed(
                SubmitOutcome(
                    error=UpstreamError(f"invalid URL: {exc}", raw_code="url", temporary=False)
                )
            )
        self._in_flight += 1
        try:
            async with asyncio.timeout(self.options.timeout):
                response = await client.send(request, stream=True)
                try:
                    body = await _read_bounded(response)
                finally:
                    await response.aclose()
        except (TimeoutError, httpx.TimeoutException):
            return self._failed(
                transport_failure("timeout", f"no answer within {self.options.timeout:g} s")
            )
        except httpx.HTTPError as exc:
            # The exception's text can hold the URL, which can hold a number: the type says enough.
            return self._failed(transport_failure("connection", type(exc).__name__))
        finally:
            self._in_flight -= 1
        outcome = self._reader.classify(response.status_code, response.headers, body)
        return self._failed(outcome) if outcome.error is not None else outcome

    def _failed(self, outcome: SubmitOutcome) -> SubmitOutcome:
        error = outcome.error
        if error is not None:
            # Health detail is public (/readyz): the code only, never the carrier's text.
            kind = (
                "throttled" if error.throttled else "temporary" if error.temporary else "permanent"
            )
            self._last_error = (
                f"last error: {error.raw_code} ({kind}) at {time.strftime('%H:%M:%S')}"
            )
        return outcome

    async def handle_callback(self, request: CallbackRequest) -> CallbackResponse:
        events = self._events
        if events is None:
            raise CallbackRejected(
                f"connector {self.name} is not running",
                status=503,
                code="callback.unavailable",
                title="Connector not running",
            )
        parser = self._callbacks
        if parser is None:
            raise CallbackRejected(
                f"connector {self.name} has no callbacks configured",
                status=404,
                code="callback.not_configured",
                title="No callbacks for this connector",
            )
        parser.authenticate(request)
        data = parser.fields(request)
        receipts, part = [], None
        if parser.kind(request, data) == "receipt":
            receipts = parser.receipts(data)
        else:
            part = parser.inbound(data, received_at=time.time())
        try:
            if part is not None:
                await events.inbound_received(self.name, [part])
            else:
                # Concurrent callbacks share one commit, as SMPP receipts do.
                await asyncio.gather(*(self._receipts.submit(r) for r in receipts))
        except Exception:
            # Not committed: the carrier must send it again, so no 200 and no 4xx.
            log.exception("committing a callback from %s failed", self.name)
            raise CallbackRejected(
                "the report could not be stored; send it again",
                status=503,
                code="callback.not_committed",
                title="Callback not stored",
            ) from None
        return CallbackResponse(status=200, body=parser.options.ok_body.encode())

    async def _commit_receipts(self, receipts: Sequence[UpstreamReceipt]) -> list[None]:
        assert self._events is not None
        await self._events.receipts_received(self.name, receipts)
        return [None] * len(receipts)


async def _read_bounded(response: httpx.Response) -> bytes:
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) >= MAX_RESPONSE_BODY:
            break
    return bytes(body[:MAX_RESPONSE_BODY])
