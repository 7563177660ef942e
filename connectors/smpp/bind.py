"""One ESME bind to an upstream SMSC, kept up with reconnects (exponential backoff with jitter).

Submits are pipelined up to the session window: a bind never waits for one response before
sending the next. A response that never comes (timeout) or a connection that drops fails the
outstanding submits with a temporary error, so dispatch retries them; a response that did
arrive is never retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from typing import Any

from gateway.ratelimit import Gcra
from gateway.smpp.codes import CommandStatus
from gateway.smpp.pdu import (
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Pdu,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
)
from gateway.smpp.session import (
    ConnectionClosed,
    EnquireLinkDue,
    Event,
    LinkTimedOut,
    RequestReceived,
    ResponseReceived,
    ResponseTimedOut,
    Role,
    SessionConfig,
)
from gateway.smpp_io import SessionProtocol

log = logging.getLogger(__name__)

# What a deliver_sm handler gives back: the status to answer with now; or the commit to wait
# for, answered ESME_ROK once it succeeds (a receipt: no task per PDU, the commonest request
# under load); or a coroutine returning the status, which runs as a task of the bind.
DeliverOutcome = int | asyncio.Future[Any] | Coroutine[Any, Any, int]
DeliverHandler = Callable[[DeliverSm], DeliverOutcome]


class SubmitNotAnsweredError(Exception):
    """The submit got no usable response: connection lost or timed out. Always temporary."""


@dataclass
class BindSettings:
    host: str
    port: int
    system_id: str
    password: str
    system_type: str = ""
    window: int = 10
    response_timeout: float = 10.0
    enquire_link_interval: float = 30.0
    connect_timeout: float = 5.0
    reconnect_min: float = 0.5
    reconnect_max: float = 30.0
    tls: ssl.SSLContext | None = None
    # Segments/s this one bind may carry (the carrier's per-session limit); 0: no limit.
    rate: float = 0.0


# What each kind of bind sends to open its session (SMPP 3.4 §4.1).
_BIND_REQUESTS = {
    "transceiver": BindTransceiver,
    "transmitter": BindTransmitter,
    "receiver": BindReceiver,
}


class _EsmeConnection(SessionProtocol):
    def __init__(self, bind: Bind) -> None:
        s = bind.settings
        super().__init__(
            Role.ESME,
            SessionConfig(
                window=s.window,
                response_timeout=s.response_timeout,
                enquire_link_interval=s.enquire_link_interval,
            ),
        )
        self.bind = bind
        self.bound = self._loop.create_future()
        self.pending: dict[int, asyncio.Future[Pdu]] = {}

    def on_connected(self) -> None:
        s = self.bind.settings
        request = _BIND_REQUESTS[self.bind.kind]
        self.send(request(system_id=s.system_id, password=s.password, system_type=s.system_type))

    def on_closed(self, exc: Exception | None) -> None:
        if not self.bound.done():
            self.bound.set_exception(SubmitNotAnsweredError("connection closed before bind"))
        self._fail_pending("connection lost")
        self.bind.connection_lost(self)

    def _fail_pending(self, why: str) -> None:
        pending, self.pending = self.pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(SubmitNotAnsweredError(why))

    def handle_event(self, event: Event) -> None:
        match event:
            case ResponseReceived(
                pdu=BindTransceiverResp() | BindTransmitterResp() | BindReceiverResp() as pdu
            ):
                if not self.bound.done():
                    self.bound.set_result(pdu.command_status)
            case ResponseReceived(pdu=SubmitSmResp() | GenericNack() as pdu):
                future = self.pending.pop(pdu.sequence_number, None)
                if future is not None and not future.done():
                    future.set_result(pdu)
                self.bind.window_freed()
            case ResponseTimedOut(request=request):
                future = self.pending.pop(request.sequence_number, None)
                if future is not None and not future.done():
                    future.set_exception(SubmitNotAnsweredError("no response within the timeout"))
                self.bind.window_freed()
            case RequestReceived(pdu=DeliverSm() as pdu):
                self._deliver(pdu)
            case RequestReceived(pdu=EnquireLink() as pdu):
                self.send(EnquireLinkResp(sequence_number=pdu.sequence_number))
            case RequestReceived(pdu=Unbind() as pdu):
                self.send(UnbindResp(sequence_number=pdu.sequence_number))
                self.close()
            case EnquireLinkDue():
                self.send(EnquireLink())
            case LinkTimedOut():
                log.warning("upstream %s stopped answering enquire_link; reconnecting", self.peer)
                self.close()
            case ConnectionClosed():
                pass
            case _:
                pass

    def _deliver(self, pdu: DeliverSm) -> None:
        try:
            outcome = self.bind.on_deliver(pdu)
        except Exception:
            log.exception("handling a deliver_sm failed; asking the SMSC to retry it")
            outcome = CommandStatus.ESME_RX_T_APPN
        if isinstance(outcome, int):
            self._answer_deliver(pdu.sequence_number, outcome)
        elif isinstance(outcome, asyncio.Future):
            outcome.add_done_callback(partial(self._deliver_committed, pdu.sequence_number))
        else:
            self.bind.spawn(self._await_deliver(pdu.sequence_number, outcome))

    def _deliver_committed(self, sequence_number: int, commit: asyncio.Future[Any]) -> None:
        status = CommandStatus.ESME_ROK
        if commit.cancelled() or commit.exception() is not None:
            if not commit.cancelled():
                log.error(
                    "committing a deliver_sm failed; asking the SMSC to retry it",
                    exc_info=commit.exception(),
                )
            status = CommandStatus.ESME_RX_T_APPN
        self._answer_deliver(sequence_number, status)

    async def _await_deliver(
        self, sequence_number: int, handling: Coroutine[Any, Any, int]
    ) -> None:
        try:
            status = await handling
        except Exception:
            log.exception("handling a deliver_sm failed; asking the SMSC to retry it")
            status = CommandStatus.ESME_RX_T_APPN
        self._answer_deliver(sequence_number, status)

    def _answer_deliver(self, sequence_number: int, status: int) -> None:
        if self.is_open:
            self.send(DeliverSmResp(sequence_number=sequence_number, command_status=status))
        elif log.isEnabledFor(logging.DEBUG):
            # The SMSC keeps what it did not hear us acknowledge, and sends it again.
            log.debug("deliver_sm handled but the bind closed before its answer")

    async def submit(self, pdu: SubmitSm) -> Pdu:
        sent = self.send(pdu)
        future: asyncio.Future[Pdu] = self._loop.create_future()
        self.pending[sent.sequence_number] = future
        return await future

    async def unbind(self, timeout: float) -> None:
        if self.pending:
            await asyncio.wait(list(self.pending.values()), timeout=timeout)
        if self.is_open and self.session.bound:
            with contextlib.suppress(Exception):
                self.send(Unbind())
                async with asyncio.timeout(1.0):
                    await asyncio.shield(self.closed)
        self.close()


class Bind:
    def __init__(
        self,
        name: str,
        settings: BindSettings,
        on_deliver: DeliverHandler,
        *,
        kind: str = "transceiver",
    ) -> None:
        if kind not in _BIND_REQUESTS:
            raise ValueError(f"bind kind must be one of {', '.join(_BIND_REQUESTS)}")
        self.name = name
        self.kind = kind
        self.settings = settings
        self._pace = Gcra(settings.rate) if settings.rate > 0 else None
        self.on_deliver = on_deliver
        self.state = "down"
        self.detail = ""
        self.reconnects = 0
        self._conn: _EsmeConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._lost = asyncio.Event()
        self._stopping = False
        self.changed = asyncio.Event()  # set on bind up and when window frees

    @property
    def ready(self) -> bool:
        """Bound, able to submit, with room in its window."""
        conn = self._conn
        return (
            self.kind != "receiver"
            and self.state == "bound"
            and conn is not None
            and conn.is_open
            and conn.session.window_available > 0
        )

    @property
    def in_flight(self) -> int:
        return 0 if self._conn is None else len(self._conn.pending)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"smpp-bind-{self.name}")

    def spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def window_freed(self) -> None:
        self.changed.set()

    def connection_lost(self, conn: _EsmeConnection) -> None:
        if conn is self._conn:
            self.state = "down"
            self._lost.set()
            self.changed.set()

    async def submit(self, pdu: SubmitSm) -> Pdu:
        if self._pace is not None:
            # Waits in line, before taking a window slot: a bind's limit spaces its submits.
            await self._pace.take()
        conn = self._conn
        if conn is None or self.state != "bound":
            raise SubmitNotAnsweredError("bind is not up")
        return await conn.submit(pdu)

    async def _run(self) -> None:
        delay = self.settings.reconnect_min
        loop = asyncio.get_running_loop()
        while not self._stopping:
            self.state = "connecting"
            try:
                async with asyncio.timeout(self.settings.connect_timeout):
                    _, conn = await loop.create_connection(
                        lambda: _EsmeConnection(self),
                        self.settings.host,
                        self.settings.port,
                        ssl=self.settings.tls,
                    )
                self._conn = conn
                self._lost.clear()
                async with asyncio.timeout(self.settings.response_timeout):
                    status = await asyncio.shield(conn.bound)
                if status != CommandStatus.ESME_ROK:
                    self.detail = f"bind refused: 0x{status:08X}"
                    log.error("upstream %s refused the bind (0x%08X)", self.name, status)
                    conn.close()
                else:
                    self.state = "bound"
                    self.detail = ""
                    delay = self.settings.reconnect_min
                    self.changed.set()
                    log.info("upstream bind %s is up", self.name)
                    await self._lost.wait()
                    log.warning("upstream bind %s went down", self.name)
            except (OSError, TimeoutError, SubmitNotAnsweredError) as exc:
                self.detail = f"{type(exc).__name__}: {exc}"
                if self._conn is not None:
                    self._conn.close()
            self.state = "down"
            if self._stopping:
                break
            self.reconnects += 1
            # "Equal jitter": between half and all of the delay, so binds of many nodes that
            # lost the carrier together do not come back together, yet none retries at once.
            await asyncio.sleep(random.uniform(delay / 2, delay))
            delay = min(delay * 2, self.settings.reconnect_max)

    async def stop(self, timeout: float = 5.0) -> None:
        self._stopping = True
        if self._conn is not None:
            await self._conn.unbind(timeout)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._tasks):
            task.cancel()
