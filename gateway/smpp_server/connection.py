"""One ESME connection to our SMPP server: a thin transport over a sans-IO SMSC `Session`.

Each submit is answered after its message is committed (`submit_sm_resp` with our id), and
several are in progress at once up to the bind's window; past the window, or past the account's
rate, the answer is ESME_RTHROTTLED, and when the store falls behind ESME_RMSGQFUL: never an
unbounded buffer. Receipts leave as deliver_sm on receiver and transceiver binds; a deliver_sm
that is not acknowledged goes back to the outbox and is sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from gateway.domain import GatewayError, OutboxItem, SmppCredential
from gateway.smpp.codes import CommandStatus
from gateway.smpp.pdu import (
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    CancelSm,
    DataSm,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Pdu,
    QuerySm,
    ReplaceSm,
    SubmitMulti,
    SubmitSm,
    Unbind,
    UnbindResp,
    error_reply,
)
from gateway.smpp.session import (
    BindTimedOut,
    ConnectionClosed,
    EnquireLinkDue,
    Event,
    LinkTimedOut,
    PduTimedOut,
    RequestReceived,
    ResponseReceived,
    ResponseTimedOut,
    Role,
    SessionConfig,
)
from gateway.smpp.tlv import Tlv
from gateway.smpp_io import SessionProtocol
from gateway.smpp_server.mapping import status_for_error

if TYPE_CHECKING:
    from gateway.smpp_server.server import SmppServer

log = logging.getLogger(__name__)

_BIND_RESPONSES: dict[type[Pdu], type[Pdu]] = {
    BindTransmitter: BindTransmitterResp,
    BindReceiver: BindReceiverResp,
    BindTransceiver: BindTransceiverResp,
}
SMSC_SYSTEM_ID = "SMSGW"
INTERFACE_VERSION = 0x34


class EsmeConnection(SessionProtocol):
    def __init__(self, server: SmppServer) -> None:
        super().__init__(
            Role.SMSC,
            SessionConfig(
                window=server.settings.deliver_window,
                enquire_link_interval=server.settings.enquire_link_interval,
                response_timeout=server.settings.response_timeout,
                bind_timeout=server.settings.bind_timeout,
                pdu_timeout=server.settings.pdu_timeout,
            ),
            write_stall_timeout=server.settings.write_stall_timeout,
            write_buffer_limit=server.settings.write_buffer_limit,
        )
        self.server = server
        self.credential: SmppCredential | None = None
        self.can_receive = False
        self.can_transmit = False
        # Requests being worked on (the ESME's window as we see it), by a number of their own.
        self._in_flight: set[int] = set()
        self._requests = 0  # numbers given so far
        self._answered = asyncio.Event()  # set each time a request leaves the window
        self._binding = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._deliveries: dict[int, OutboxItem] = {}  # our deliver_sm seq -> outbox item
        self.admitted = False  # counted in the server's registry (within its connection caps)

    # -- lifecycle --------------------------------------------------------------------------

    def on_connected(self) -> None:
        if not self.server.connection_opened(self) and self.transport is not None:
            # Over a connection cap: refused before a single byte is read.
            self.transport.abort()

    def on_closed(self, exc: Exception | None) -> None:
        for task in self._tasks:
            task.cancel()
        undelivered = list(self._deliveries.values())
        self._deliveries.clear()
        self.server.connection_closed(self, undelivered)

    def on_write_stalled(self) -> None:
        self.server.connection_dropped("write_stall")

    @property
    def system_id(self) -> str | None:
        return None if self.credential is None else self.credential.system_id

    @property
    def delivery_room(self) -> int:
        ready = self.can_receive and self.is_open and self.session.bound
        return self.session.window_available if ready else 0

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- events -----------------------------------------------------------------------------

    def handle_event(self, event: Event) -> None:
        if isinstance(event, RequestReceived):
            self.server.request_received(event.pdu)
        match event:
            case RequestReceived(pdu=BindTransmitter() | BindReceiver() | BindTransceiver() as pdu):
                if self._binding:
                    # One bind at a time: a flood of binds must not become a flood of
                    # tasks and password checks.
                    self._reply_error(pdu, CommandStatus.ESME_RBINDFAIL)
                else:
                    self._binding = True
                    self._spawn(self._bind(pdu))
            case RequestReceived(pdu=SubmitSm() | DataSm() as pdu):
                self._admit_submit(pdu)
            case RequestReceived(pdu=SubmitMulti() as pdu):
                self._admit(pdu, self._submit_multi)
            case RequestReceived(pdu=QuerySm() | CancelSm() | ReplaceSm() as pdu):
                self._admit(pdu, self._manage)
            case RequestReceived(pdu=EnquireLink() as pdu):
                self.send(EnquireLinkResp(sequence_number=pdu.sequence_number))
            case RequestReceived(pdu=Unbind() as pdu):
                self._spawn(self._unbind_when_idle(pdu))
            case RequestReceived(pdu=pdu):
                self.send(
                    GenericNack(
                        sequence_number=pdu.sequence_number,
                        command_status=CommandStatus.ESME_RINVCMDID,
                    )
                )
            case ResponseReceived(pdu=DeliverSmResp() | GenericNack() as pdu):
                item = self._deliveries.pop(pdu.sequence_number, None)
                if item is not None:
                    self.server.delivery_answered(item, pdu.command_status)
            case ResponseTimedOut(request=DeliverSm() as request):
                item = self._deliveries.pop(request.sequence_number, None)
                if item is not None:
                    self.server.delivery_answered(item, CommandStatus.ESME_RUNKNOWNERR)
            case EnquireLinkDue():
                self.send(EnquireLink())
            case LinkTimedOut():
                log.info("ESME %s stopped answering enquire_link; closing", self.system_id)
                self.close()
            case BindTimedOut():
                log.info("SMPP peer %s did not bind in time; closing", self.peer)
                self.server.connection_dropped("bind_timeout")
                self.close()
            case PduTimedOut(buffered=buffered):
                log.info("SMPP peer %s left a PDU unfinished (%d octets)", self.peer, buffered)
                self.server.connection_dropped("pdu_timeout")
                self._abort()
            case ConnectionClosed():
                pass
            case _:
                pass

    def send(self, pdu: Pdu) -> Pdu:
        if int(pdu.command_id) & 0x80000000:  # a response: counted by command and status
            self.server.response_sent(pdu)
        return super().send(pdu)

    def _admit(self, pdu: Pdu, handler: Callable[[Pdu], Awaitable[Pdu]]) -> None:
        """Start work on a request unless the bind's window is full."""
        request = self._enter(pdu)
        if request is not None:
            self._spawn(self._answer(pdu, handler, request))

    def _admit_submit(self, pdu: SubmitSm | DataSm) -> None:
        """A submit_sm or data_sm: started at once, answered from its commit's callback."""
        request = self._enter(pdu)
        if request is None:
            return
        assert self.credential is not None
        answered = False

        def answer(outcome: Pdu | BaseException) -> None:
            nonlocal answered
            if answered:
                return
            answered = True
            self._leave(request)
            self._respond(pdu, outcome)

        try:
            task = self.server.start_submit(self.credential, pdu, answer)
        except Exception as exc:
            if answered:  # sending the answer itself failed: as for any request
                raise
            answer(exc)
            return
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(lambda done: self._submit_task_done(done, request))

    def _submit_task_done(self, task: asyncio.Task[None], request: int) -> None:
        self._tasks.discard(task)
        if task.cancelled():  # the ESME left: nobody to answer
            self._leave(request)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def _enter(self, pdu: Pdu) -> int | None:
        """Count a request in and return its number, unless the bind's window is full (then
        it is answered, and None returned)."""
        window = self.server.settings.window
        if len(self._in_flight) >= window:
            self.server.metrics_throttled()
            self._reply_error(pdu, CommandStatus.ESME_RTHROTTLED)
            return None
        self._requests += 1
        self._in_flight.add(self._requests)
        if len(self._in_flight) >= window and self.transport is not None:
            # Stop reading until answers go out: the ESME is over its window anyway, and
            # this keeps a flood from queueing in our buffers.
            self.transport.pause_reading()
        return self._requests

    def _leave(self, request: int) -> None:
        self._in_flight.discard(request)
        self._answered.set()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    async def _answer(
        self, pdu: Pdu, handler: Callable[[Pdu], Awaitable[Pdu]], request: int
    ) -> None:
        try:
            outcome: Pdu | BaseException = await handler(pdu)
        except asyncio.CancelledError:
            self._leave(request)
            raise
        except Exception as exc:
            outcome = exc
        self._leave(request)
        self._respond(pdu, outcome)

    def _respond(self, pdu: Pdu, outcome: Pdu | BaseException) -> None:
        """Send a request's response, or the error status its exception calls for."""
        if isinstance(outcome, GatewayError):
            response = _error_response(pdu, status_for_error(outcome))
        elif isinstance(outcome, BaseException):
            log.error("handling %s failed", type(pdu).__name__, exc_info=outcome)
            response = _error_response(pdu, CommandStatus.ESME_RSYSERR)
        else:
            response = outcome
        if self.is_open:
            self.send(response)

    def _abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def _reply_error(self, pdu: Pdu, status: int) -> None:
        self.send(_error_response(pdu, status))

    # -- bind and unbind --------------------------------------------------------------------

    async def _bind(self, pdu: BindTransmitter | BindReceiver | BindTransceiver) -> None:
        try:
            status, credential = await self.server.authenticate(self, pdu)
        finally:
            self._binding = False
        response_type = _BIND_RESPONSES[type(pdu)]
        tlvs = {}
        if status == CommandStatus.ESME_ROK and pdu.interface_version >= INTERFACE_VERSION:
            # SMPP 3.4 §4.1.2: tell a 3.4 ESME we speak 3.4; a 3.3 one gets no TLVs at all.
            tlvs = {Tlv.SC_INTERFACE_VERSION: INTERFACE_VERSION}
        if not self.is_open:
            return
        self.send(
            response_type(  # type: ignore[call-arg]
                sequence_number=pdu.sequence_number,
                command_status=status,
                system_id=SMSC_SYSTEM_ID if status == CommandStatus.ESME_ROK else "",
                tlvs=tlvs,
            )
        )
        if status != CommandStatus.ESME_ROK:
            return
        self.credential = credential
        self.can_transmit = not isinstance(pdu, BindReceiver)
        self.can_receive = not isinstance(pdu, BindTransmitter)
        self.server.bound(self)

    async def _unbind_when_idle(self, pdu: Unbind) -> None:
        # Answer what is in progress first, so no acknowledged submit loses its response.
        await self._in_flight_answered(self.server.settings.response_timeout)
        if self.is_open:
            self.send(UnbindResp(sequence_number=pdu.sequence_number))
            self.close()

    async def unbind(self, timeout: float) -> None:
        """Graceful stop from our side: let in-flight work answer, then unbind."""
        await self._in_flight_answered(timeout)
        if self.is_open and self.session.bound:
            with contextlib.suppress(Exception):
                self.send(Unbind())
                async with asyncio.timeout(1.0):
                    await asyncio.shield(self.closed)
        self.close()

    async def _in_flight_answered(self, timeout: float) -> None:
        """Until every request in progress now is answered (and every other task of this
        connection but the caller's is done), or `timeout`. Requests that come after are not
        waited for: an ESME that keeps its window full must not hold an unbind off."""
        pending = [t for t in self._tasks if t is not asyncio.current_task()]
        waiting = set(self._in_flight)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                if pending:
                    await asyncio.wait(pending)
                while waiting & self._in_flight:
                    self._answered.clear()
                    await self._answered.wait()

    # -- messages in ------------------------------------------------------------------------

    async def _submit_multi(self, pdu: Pdu) -> Pdu:
        assert self.credential is not None
        assert isinstance(pdu, SubmitMulti)
        return await self.server.submit_multi(self.credential, pdu)

    async def _manage(self, pdu: Pdu) -> Pdu:
        assert self.credential is not None
        return await self.server.manage(self.credential, pdu)

    # -- receipts out -----------------------------------------------------------------------

    def deliver(self, item: OutboxItem, pdu: DeliverSm) -> None:
        sent = self.send(pdu)
        self._deliveries[sent.sequence_number] = item


def _error_response(pdu: Pdu, status: int) -> Pdu:
    return error_reply(pdu.command_id, pdu.sequence_number, status)
