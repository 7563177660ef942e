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
            ),
        )
        self.server = server
        self.credential: SmppCredential | None = None
        self.can_receive = False
        self.can_transmit = False
        self._busy = 0  # requests being worked on (the ESME's window as we see it)
        self._binding = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._deliveries: dict[int, OutboxItem] = {}  # our deliver_sm seq -> outbox item

    # -- lifecycle --------------------------------------------------------------------------

    def on_connected(self) -> None:
        self.server.connection_opened(self)

    def on_closed(self, exc: Exception | None) -> None:
        for task in self._tasks:
            task.cancel()
        undelivered = list(self._deliveries.values())
        self._deliveries.clear()
        self.server.connection_closed(self, undelivered)

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
            case RequestReceived(pdu=SubmitSm() | DataSm() | SubmitMulti() as pdu):
                self._admit(pdu, self._submit)
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
        if self._busy >= self.server.settings.window:
            self.server.metrics_throttled()
            self._reply_error(pdu, CommandStatus.ESME_RTHROTTLED)
            return
        self._busy += 1
        if self._busy >= self.server.settings.window and self.transport is not None:
            # Stop reading until answers go out: the ESME is over its window anyway, and
            # this keeps a flood from queueing in our buffers.
            self.transport.pause_reading()
        self._spawn(self._answer(pdu, handler))

    async def _answer(self, pdu: Pdu, handler: Callable[[Pdu], Awaitable[Pdu]]) -> None:
        try:
            response = await handler(pdu)
        except GatewayError as exc:
            response = _error_response(pdu, status_for_error(exc))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("handling %s failed", type(pdu).__name__)
            response = _error_response(pdu, CommandStatus.ESME_RSYSERR)
        finally:
            self._busy -= 1
            if self.transport is not None and not self.transport.is_closing():
                self.transport.resume_reading()
        if self.is_open:
            self.send(response)

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
        pending = [t for t in self._tasks if t is not asyncio.current_task()]
        if pending:
            await asyncio.wait(pending, timeout=self.server.settings.response_timeout)
        if self.is_open:
            self.send(UnbindResp(sequence_number=pdu.sequence_number))
            self.close()

    async def unbind(self, timeout: float) -> None:
        """Graceful stop from our side: let in-flight work answer, then unbind."""
        pending = list(self._tasks)
        if pending:
            await asyncio.wait(pending, timeout=timeout)
        if self.is_open and self.session.bound:
            with contextlib.suppress(Exception):
                self.send(Unbind())
                async with asyncio.timeout(1.0):
                    await asyncio.shield(self.closed)
        self.close()

    # -- messages in ------------------------------------------------------------------------

    async def _submit(self, pdu: Pdu) -> Pdu:
        assert self.credential is not None
        return await self.server.submit(self.credential, pdu)

    async def _manage(self, pdu: Pdu) -> Pdu:
        assert self.credential is not None
        return await self.server.manage(self.credential, pdu)

    # -- receipts out -----------------------------------------------------------------------

    def deliver(self, item: OutboxItem, pdu: DeliverSm) -> None:
        sent = self.send(pdu)
        self._deliveries[sent.sequence_number] = item


def _error_response(pdu: Pdu, status: int) -> Pdu:
    return error_reply(pdu.command_id, pdu.sequence_number, status)
