"""Thin asyncio transport for a sans-IO `gateway.smpp.Session`.

Reads bytes, feeds the session, hands each event to `handle_event`, writes what the subclass
sends, and drives the session's timers with one `call_at` handle. PDUs sent in one turn of the
event loop leave in one write (a window of responses settled by one group commit is one
system call, not a hundred). Flow control both ways: when
the socket's write buffer is full, senders wait (`drain`); subclasses may `pause_reading()`
when their own queue is full. Used by the SMSC simulator, the SMPP client connector and the
SMPP server alike, so all three behave the same on the wire.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

from gateway.smpp.errors import LocalProtocolError
from gateway.smpp.pdu import Pdu, with_sequence
from gateway.smpp.session import (
    ConnectionClosed,
    Event,
    ProtocolErrorOccurred,
    Role,
    Session,
    SessionConfig,
)

log = logging.getLogger(__name__)


class SessionProtocol(asyncio.Protocol):
    """``write_stall_timeout``: close when the peer has not read for this long while our write
    buffer is over ``write_buffer_limit`` octets; past four times that limit (a peer that stopped
    reading while we keep answering) the connection is dropped at once, so what we hold for one
    peer stays bounded. None: no limit (the transport's defaults)."""

    def __init__(
        self,
        role: Role,
        config: SessionConfig | None = None,
        *,
        write_stall_timeout: float | None = None,
        write_buffer_limit: int | None = None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._write_stall_timeout = write_stall_timeout
        self._write_buffer_limit = write_buffer_limit
        self._stall_timer: asyncio.TimerHandle | None = None
        self.session = Session(role, config, clock=self._loop.time)
        self.transport: asyncio.Transport | None = None
        self.peer: Any = None
        self._timer: asyncio.TimerHandle | None = None
        self._writable = asyncio.Event()
        self._writable.set()
        self.closed = self._loop.create_future()
        self._outgoing: list[bytes] = []  # encoded PDUs waiting for the end of this loop turn

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing asyncio.Transport.
        self.transport = cast(asyncio.Transport, transport)
        self.peer = transport.get_extra_info("peername")
        if self._write_buffer_limit is not None:
            self.transport.set_write_buffer_limits(high=self._write_buffer_limit)
        self._arm_timer()
        self.on_connected()

    def data_received(self, data: bytes) -> None:
        self._dispatch(self.session.receive_data(data))

    def eof_received(self) -> bool | None:
        self._dispatch(self.session.receive_data(b""))
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None
        self._outgoing.clear()
        self._writable.set()
        if not self.closed.done():
            self.closed.set_result(None)
        self.on_closed(exc)

    def pause_writing(self) -> None:
        self._writable.clear()
        if self._write_stall_timeout is not None and self._stall_timer is None:
            self._stall_timer = self._loop.call_later(
                self._write_stall_timeout, self._on_write_stall
            )

    def resume_writing(self) -> None:
        self._writable.set()
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None

    # -- for subclasses ---------------------------------------------------------------------

    def send(self, pdu: Pdu) -> Pdu:
        """Encode through the session (which assigns the sequence number of a new request and
        checks the PDU is allowed now) and write. Returns the PDU as sent."""
        if pdu.sequence_number == 0 and not _is_response(pdu):
            pdu = with_sequence(pdu, self.session.next_sequence_number())
        data = self.session.send(pdu)
        if self.transport is not None and not self.transport.is_closing():
            if not self._outgoing:
                self._loop.call_soon(self._write_outgoing)
            self._outgoing.append(data)
        self._arm_timer()
        return pdu

    async def drain(self) -> None:
        await self._writable.wait()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self._write_outgoing()  # what was sent before the close goes out first
            self.transport.close()

    @property
    def is_open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def on_connected(self) -> None:
        """Called once the connection is up."""

    def on_closed(self, exc: Exception | None) -> None:
        """Called once the connection is gone."""

    def on_write_stalled(self) -> None:
        """Called just before a peer that stopped reading is dropped."""

    def handle_event(self, event: Event) -> None:
        raise NotImplementedError

    # -- internals --------------------------------------------------------------------------

    def _dispatch(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, ProtocolErrorOccurred):
                self._answer_protocol_error(event)
            elif isinstance(event, ConnectionClosed):
                self.handle_event(event)
                self.close()
            else:
                try:
                    self.handle_event(event)
                except LocalProtocolError:
                    log.exception("SMPP handler broke the protocol; closing the connection")
                    self.close()
        self._arm_timer()

    def _write_outgoing(self) -> None:
        if not self._outgoing:
            return
        data = b"".join(self._outgoing) if len(self._outgoing) > 1 else self._outgoing[0]
        self._outgoing.clear()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)
            limit = self._write_buffer_limit
            if limit is not None and self.transport.get_write_buffer_size() > 4 * limit:
                log.warning("SMPP peer %s is not reading; dropping the connection", self.peer)
                self.on_write_stalled()
                self.transport.abort()

    def _answer_protocol_error(self, event: ProtocolErrorOccurred) -> None:
        error = event.error
        log.warning("SMPP protocol error from %s: %s", self.peer, error)
        if error.reply is not None and self.is_open:
            try:
                self.send(error.reply)
            except LocalProtocolError:
                log.debug("could not answer a protocol error in this state", exc_info=True)
        self.handle_event(event)
        if error.fatal:
            self.close()

    def _arm_timer(self) -> None:
        deadline = self.session.next_deadline()
        if deadline is None or not self.is_open:
            return
        # A timer already due no later is kept: firing early costs one empty handle_timer,
        # while re-creating a timer on every PDU costs a heap operation each time.
        if self._timer is not None:
            if self._timer.when() <= deadline:
                return
            self._timer.cancel()
        self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_write_stall(self) -> None:
        self._stall_timer = None
        if self.transport is not None and not self._writable.is_set():
            log.warning("SMPP peer %s stopped reading; dropping the connection", self.peer)
            self.on_write_stalled()
            # close() would wait for the buffer to drain, which is what never happens.
            self.transport.abort()

    def _on_timer(self) -> None:
        self._timer = None
        self._dispatch(self.session.handle_timer(self._loop.time()))


def _is_response(pdu: Pdu) -> bool:
    return bool(int(pdu.command_id) & 0x80000000)
