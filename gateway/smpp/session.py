"""A sans-IO SMPP 3.4 session: bytes in, events out; PDUs in, bytes out (h11 ``Connection``).

The session owns everything per-connection that the protocol defines: the bind state (table in
``state.py``), sequence numbers, the window of our requests awaiting responses, the requests of
the peer awaiting ours, and the enquire_link / response timers, which it exposes as deadlines for
the caller to drive. It never touches a socket and reads the clock only through ``clock``. It
never answers by itself: the transport answers each ``RequestReceived`` (an enquire_link with
``EnquireLinkResp(sequence_number=pdu.sequence_number)``) and sends ``error.reply`` for each
``ProtocolErrorOccurred``, closing the connection when ``error.fatal``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from gateway.smpp.codes import CommandId, CommandStatus, is_response, response_id
from gateway.smpp.errors import LocalProtocolError, RemoteProtocolError
from gateway.smpp.framing import Framer
from gateway.smpp.pdu import Pdu, decode, encode, error_reply, response_class, with_sequence
from gateway.smpp.state import BIND_REQUESTS, BOUND_STATES, BindState, Role, next_state

__all__ = [
    "MAX_SEQUENCE_NUMBER",
    "BindState",
    "BindTimedOut",
    "ConnectionClosed",
    "EnquireLinkDue",
    "Event",
    "LinkTimedOut",
    "PduTimedOut",
    "ProtocolErrorOccurred",
    "RequestReceived",
    "ResponseReceived",
    "ResponseTimedOut",
    "Role",
    "Session",
    "SessionConfig",
]

# SMPP 3.4 §5.1.4: sequence numbers run 0x00000001..0x7FFFFFFF.
MAX_SEQUENCE_NUMBER = 0x7FFFFFFF

# Requests that need a response but do not take a window slot: keep-alives and unbind must get
# through even when the window is full of submits, or a busy session could never be tested or
# closed.
_UNWINDOWED = frozenset((CommandId.ENQUIRE_LINK, CommandId.UNBIND))


@dataclass
class SessionConfig:
    """Per-session limits and timers (seconds)."""

    max_command_length: int = 65536
    # Our requests awaiting a response (enquire_link and unbind excluded).
    window: int = 10
    response_timeout: float = 10.0
    # Send an enquire_link when nothing was received for this long.
    enquire_link_interval: float = 30.0
    # Our enquire_link unanswered, and nothing else received, for this long: the peer is gone.
    link_timeout: float = 10.0
    # Hostile or broken peers (slowloris): still unbound this long after the session began
    # (``BindTimedOut``), or a PDU begun and not completed within this long, however slowly its
    # octets keep arriving (``PduTimedOut``). None: no limit (a client waiting for its SMSC).
    bind_timeout: float | None = None
    pdu_timeout: float | None = None


# --- events ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Event:
    """Base of what ``receive_data`` and ``handle_timer`` report."""


@dataclass(frozen=True, slots=True)
class RequestReceived(Event):
    """The peer sent a request valid in the current state; answer it (``pdu.sequence_number``)."""

    pdu: Pdu


@dataclass(frozen=True, slots=True)
class ResponseReceived(Event):
    """The peer answered. ``request`` is our request with that sequence number (now out of the
    window), or None if nothing of ours matched (late, duplicate, or of another command)."""

    pdu: Pdu
    request: Pdu | None


@dataclass(frozen=True, slots=True)
class ProtocolErrorOccurred(Event):
    """The peer broke the protocol: send ``error.reply`` if any; close if ``error.fatal``."""

    error: RemoteProtocolError


@dataclass(frozen=True, slots=True)
class ResponseTimedOut(Event):
    """Our request got no response within response_timeout; it has left the window."""

    request: Pdu


@dataclass(frozen=True, slots=True)
class EnquireLinkDue(Event):
    """Nothing received for enquire_link_interval: send an ``EnquireLink()``."""


@dataclass(frozen=True, slots=True)
class LinkTimedOut(Event):
    """Our enquire_link went unanswered and the peer stayed silent: treat it as dead, close."""


@dataclass(frozen=True, slots=True)
class BindTimedOut(Event):
    """The peer did not bind within bind_timeout of the session's start: close the connection."""


@dataclass(frozen=True, slots=True)
class PduTimedOut(Event):
    """A PDU was begun and not completed within pdu_timeout (``buffered`` octets of it held):
    the peer is stalled or dribbling; close the connection."""

    buffered: int


@dataclass(frozen=True, slots=True)
class ConnectionClosed(Event):
    """The peer closed the connection. ``unanswered``: our requests that never got a response,
    in the order sent (to retry elsewhere; they may or may not have been processed)."""

    unanswered: tuple[Pdu, ...] = ()


@dataclass(slots=True)
class _Outstanding:
    pdu: Pdu
    sent_at: float
    deadline: float
    windowed: bool


class Session:
    """One SMPP session, as the ESME or the SMSC end."""

    def __init__(
        self,
        role: Role,
        config: SessionConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        first_sequence_number: int = 1,
    ) -> None:
        if not 1 <= first_sequence_number <= MAX_SEQUENCE_NUMBER:
            raise ValueError("first_sequence_number must be in 1..0x7FFFFFFF")
        self.role = role
        self.peer_role = Role.SMSC if role is Role.ESME else Role.ESME
        self.config = config if config is not None else SessionConfig()
        self._clock = clock
        self._state = BindState.OPEN
        self._framer = Framer(self.config.max_command_length)
        self._next_sequence = first_sequence_number
        # In send order; answered ones leave from anywhere, mostly the front. An OrderedDict,
        # not a dict: finding the first entry of a dict used as a FIFO walks over the slots
        # its removals left, which at a window of 1,000 is most of `next_deadline`.
        self._outstanding: OrderedDict[int, _Outstanding] = OrderedDict()
        self._windowed = 0
        self._enquire_link_sequence: int | None = None
        # Requests of the peer awaiting our response: sequence_number -> command_id.
        self._incoming: dict[int, CommandId] = {}
        now = clock()
        self._last_received = now
        self._idle_deadline = now + self.config.enquire_link_interval
        self._broken = False
        bind_timeout = self.config.bind_timeout
        self._bind_deadline = None if bind_timeout is None else now + bind_timeout
        # When the PDU now partly in the framer must be complete; None while none is partial.
        self._partial_deadline: float | None = None

    # --- introspection -------------------------------------------------------------------

    @property
    def state(self) -> BindState:
        return self._state

    @property
    def bound(self) -> bool:
        return self._state in BOUND_STATES

    @property
    def outstanding(self) -> int:
        """Our requests awaiting a response that count against the window."""
        return self._windowed

    @property
    def window_available(self) -> int:
        return max(0, self.config.window - self._windowed)

    @property
    def peer_outstanding(self) -> int:
        """Requests of the peer we have not answered yet (for flow control of the peer)."""
        return len(self._incoming)

    def next_sequence_number(self) -> int:
        """Allocate a fresh sequence number (1..0x7FFFFFFF, wrapping), e.g. to record it before
        the PDU is built; a request sent with sequence_number 0 gets one allocated here."""
        sequence = self._next_sequence
        while sequence in self._outstanding:
            sequence = sequence % MAX_SEQUENCE_NUMBER + 1
        self._next_sequence = sequence % MAX_SEQUENCE_NUMBER + 1
        return sequence

    # --- sending -------------------------------------------------------------------------

    def send(self, pdu: Pdu) -> bytes:
        """Check that we may send ``pdu`` now, account for it, and return its wire bytes.

        Raises ``LocalProtocolError`` when the PDU is not allowed for our role in this state,
        answers no request of the peer, or would overflow the window. A request with
        sequence_number 0 is sent with a fresh one (``ResponseReceived.request`` carries it).
        """
        command_id = pdu.command_id
        if self._state is BindState.CLOSED:
            raise LocalProtocolError(f"cannot send {command_id.name}: the session is closed")
        ok = pdu.command_status == 0
        if is_response(command_id):
            return self._send_response(pdu, command_id, ok)
        new_state = self._transition(self.role, command_id, True)
        needs_response = response_class(command_id) is not None
        windowed = needs_response and command_id not in _UNWINDOWED
        if windowed and self._windowed >= self.config.window:
            raise LocalProtocolError(f"window full ({self.config.window} outstanding)")
        if command_id in BIND_REQUESTS and any(
            o.pdu.command_id in BIND_REQUESTS for o in self._outstanding.values()
        ):
            raise LocalProtocolError("a bind is already awaiting its response")
        if pdu.sequence_number == 0:
            pdu = with_sequence(pdu, self.next_sequence_number())
        sequence = pdu.sequence_number
        if not 1 <= sequence <= MAX_SEQUENCE_NUMBER:
            raise LocalProtocolError(f"sequence_number {sequence} outside 1..0x7FFFFFFF")
        if needs_response and sequence in self._outstanding:
            raise LocalProtocolError(f"sequence_number {sequence} is already awaiting a response")
        data = encode(pdu)  # may raise: nothing is recorded before it succeeds
        if needs_response:
            now = self._clock()
            is_enquire = command_id is CommandId.ENQUIRE_LINK
            timeout = self.config.link_timeout if is_enquire else self.config.response_timeout
            self._outstanding[sequence] = _Outstanding(pdu, now, now + timeout, windowed)
            if windowed:
                self._windowed += 1
            if is_enquire:
                self._enquire_link_sequence = sequence
        self._state = new_state
        return data

    def _send_response(self, pdu: Pdu, command_id: CommandId, ok: bool) -> bytes:
        sequence = pdu.sequence_number
        request_id = self._incoming.get(sequence)
        # generic_nack may answer anything, even a PDU we could not decode; other responses
        # must answer a request of the peer with the same sequence number and command.
        if command_id is not CommandId.GENERIC_NACK and (
            request_id is None or response_id(request_id) != command_id
        ):
            raise LocalProtocolError(
                f"{command_id.name} {sequence} answers no request of the peer awaiting a response"
            )
        new_state = self._transition(self.role, command_id, ok)
        data = encode(pdu)
        self._incoming.pop(sequence, None)
        self._state = new_state
        return data

    def _transition(self, sender: Role, command_id: CommandId, ok: bool) -> BindState:
        new_state = next_state(self._state, sender, command_id, ok)
        if new_state is None:
            raise LocalProtocolError(
                f"{sender.name} may not send {command_id.name}"
                f"{'' if ok else ' (error)'} in state {self._state.name}"
            )
        return new_state

    # --- receiving -----------------------------------------------------------------------

    def receive_data(self, data: bytes) -> list[Event]:
        """Feed bytes read from the connection; ``b""`` means the peer closed it.

        Returns events in order; malformed or misplaced input is reported as
        ``ProtocolErrorOccurred`` rather than raised. After a fatal error further data is ignored.
        """
        if not data:
            unanswered = tuple(o.pdu for o in self._outstanding.values())
            self._outstanding.clear()
            self._windowed = 0
            self._enquire_link_sequence = None
            self._incoming.clear()
            self._state = BindState.CLOSED
            return [ConnectionClosed(unanswered)]
        if self._broken:
            return []
        now = self._clock()
        self._last_received = now
        self._idle_deadline = now + self.config.enquire_link_interval
        events: list[Event] = []
        try:
            frames = self._framer.feed(data)
        except RemoteProtocolError as exc:
            self._broken = True
            return [ProtocolErrorOccurred(exc)]
        if self.config.pdu_timeout is not None:
            # The clock starts with a PDU's first octet and is not reset by later ones, so a
            # peer sending one octet a second cannot hold the connection open forever.
            if not self._framer.buffered:
                self._partial_deadline = None
            elif frames or self._partial_deadline is None:
                self._partial_deadline = now + self.config.pdu_timeout
        for frame in frames:
            self._receive_frame(frame, events)
            if self._broken:
                return events
        if self._framer.pending_error:
            try:
                self._framer.feed(b"")
            except RemoteProtocolError as exc:
                self._broken = True
                events.append(ProtocolErrorOccurred(exc))
        return events

    def _receive_frame(self, frame: bytes, events: list[Event]) -> None:
        try:
            pdu = decode(frame)
        except RemoteProtocolError as exc:
            if self._state is BindState.CLOSED:
                exc = _after_close(exc)
            if exc.fatal:
                self._broken = True
            self._owe(exc.reply)
            events.append(ProtocolErrorOccurred(exc))
            return
        if is_response(pdu.command_id):
            self._receive_response(pdu, events)
        else:
            self._receive_request(pdu, events)

    def _owe(self, reply: Pdu | None) -> None:
        # A refusal we are about to send answers that request: let send() accept it.
        if reply is not None and reply.command_id is not CommandId.GENERIC_NACK:
            self._incoming[reply.sequence_number] = CommandId(reply.command_id & ~0x80000000)

    def _receive_request(self, pdu: Pdu, events: list[Event]) -> None:
        command_id = pdu.command_id
        new_state = next_state(self._state, self.peer_role, command_id, True)
        if new_state is None:
            # §5.1.3: a bind on a bound session is "already bound"; anything else out of place
            # is "incorrect bind status".
            status = (
                CommandStatus.ESME_RALYBND
                if command_id in BIND_REQUESTS and self._state in BOUND_STATES
                else CommandStatus.ESME_RINVBNDSTS
            )
            error = RemoteProtocolError(
                f"{self.peer_role.name} may not send {command_id.name} in state {self._state.name}",
                command_status=status,
                reply=error_reply(command_id, pdu.sequence_number, status),
            )
            if self._state is BindState.CLOSED:
                error = _after_close(error)
            self._owe(error.reply)
            events.append(ProtocolErrorOccurred(error))
            return
        if response_class(command_id) is not None:
            self._incoming[pdu.sequence_number] = command_id
        self._state = new_state
        events.append(RequestReceived(pdu))

    def _receive_response(self, pdu: Pdu, events: list[Event]) -> None:
        command_id = pdu.command_id
        sequence = pdu.sequence_number
        entry = self._outstanding.get(sequence)
        request = None
        if entry is not None and (
            command_id is CommandId.GENERIC_NACK or command_id == response_id(entry.pdu.command_id)
        ):
            request = entry.pdu
        ok = pdu.command_status == 0
        new_state = next_state(self._state, self.peer_role, command_id, ok)
        if request is None and ok and command_id in _BIND_RESPONSES:
            new_state = None  # a successful bind response must answer our bind of that type
        if request is not None:
            self._forget(sequence)
        if new_state is None:
            # Responses are never answered (§4.3 generic_nack is for requests we cannot use).
            events.append(
                ProtocolErrorOccurred(
                    RemoteProtocolError(
                        f"unexpected {command_id.name} {sequence} in state {self._state.name}",
                        command_status=CommandStatus.ESME_RINVBNDSTS,
                    )
                )
            )
            return
        self._state = new_state
        events.append(ResponseReceived(pdu, request))

    def _forget(self, sequence: int) -> _Outstanding:
        entry = self._outstanding.pop(sequence)
        if entry.windowed:
            self._windowed -= 1
        if sequence == self._enquire_link_sequence:
            self._enquire_link_sequence = None
        return entry

    # --- timers --------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When ``handle_timer`` should next be called (clock units), or None for never."""
        if self._state is BindState.CLOSED or self._broken:
            return None
        # Requests are kept in send order and share one timeout per kind, so the earliest
        # deadline is the first entry, or the outstanding enquire_link's: O(1), not O(window).
        deadline: float | None = None
        for sequence, entry in self._outstanding.items():
            deadline = entry.deadline if deadline is None else min(deadline, entry.deadline)
            if sequence != self._enquire_link_sequence:
                break
        if (
            self._state in BOUND_STATES
            and self._enquire_link_sequence is None
            and (deadline is None or self._idle_deadline < deadline)
        ):
            deadline = self._idle_deadline
        for guard in (self._guard_deadline(), self._partial_deadline):
            if guard is not None and (deadline is None or guard < deadline):
                deadline = guard
        return deadline

    def _guard_deadline(self) -> float | None:
        # Only an unbound session waits for a bind; one that bound (even if since unbound and
        # closed) is past it.
        return self._bind_deadline if self._state is BindState.OPEN else None

    def handle_timer(self, now: float) -> list[Event]:
        """Report what is due at ``now``: timed-out requests, a due enquire_link, a dead link."""
        if self._state is BindState.CLOSED or self._broken:
            return []
        events: list[Event] = []
        bind_deadline = self._guard_deadline()
        if bind_deadline is not None and bind_deadline <= now:
            self._bind_deadline = None
            events.append(BindTimedOut())
        if self._partial_deadline is not None and self._partial_deadline <= now:
            self._partial_deadline = None
            events.append(PduTimedOut(self._framer.buffered))
        expired = [seq for seq, o in self._outstanding.items() if o.deadline <= now]
        for sequence in expired:
            entry = self._forget(sequence)
            silent = self._last_received <= entry.sent_at
            if entry.pdu.command_id is CommandId.ENQUIRE_LINK and silent:
                events.append(LinkTimedOut())
            else:
                events.append(ResponseTimedOut(entry.pdu))
        if (
            self._state in BOUND_STATES
            and self._enquire_link_sequence is None
            and LinkTimedOut() not in events  # a dead link needs closing, not probing
            and self._idle_deadline <= now
        ):
            events.append(EnquireLinkDue())
            # Ask again one interval later if the transport does not act on this one.
            self._idle_deadline = now + self.config.enquire_link_interval
        return events


def _after_close(error: RemoteProtocolError) -> RemoteProtocolError:
    # After unbind_resp (§4.2) nothing may be sent any more, so there is no reply to give: the
    # peer talking on a closed session is told by closing the connection.
    return RemoteProtocolError(
        f"{error.args[0]} (session closed)", command_status=error.command_status, fatal=True
    )


_BIND_RESPONSES = frozenset(
    (CommandId.BIND_TRANSMITTER_RESP, CommandId.BIND_RECEIVER_RESP, CommandId.BIND_TRANSCEIVER_RESP)
)
