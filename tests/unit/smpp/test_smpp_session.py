"""Session: flows over a back-to-back ESME/SMSC pair, window, sequence numbers, timers, and the
transition table checked exhaustively over (state, sender, PDU type, status)."""

from __future__ import annotations

import itertools

import pytest

from gateway.smpp.codes import CommandId, CommandStatus
from gateway.smpp.errors import LocalProtocolError
from gateway.smpp.pdu import (
    PDU_CLASSES,
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
    Outbind,
    Pdu,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    encode,
    response_class,
)
from gateway.smpp.session import (
    ConnectionClosed,
    EnquireLinkDue,
    Event,
    LinkTimedOut,
    ProtocolErrorOccurred,
    RequestReceived,
    ResponseReceived,
    ResponseTimedOut,
    Session,
    SessionConfig,
)
from gateway.smpp.state import TRANSITIONS, BindState, Role


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


_BIND_RESP = {
    BindTransmitter: BindTransmitterResp,
    BindReceiver: BindReceiverResp,
    BindTransceiver: BindTransceiverResp,
}


class SessionPair:
    """An ESME session and an SMSC session wired back to back, no sockets, one fake clock."""

    def __init__(self, config: SessionConfig | None = None, **kwargs: int) -> None:
        self.clock = FakeClock()
        self.esme = Session(Role.ESME, config, clock=self.clock, **kwargs)
        self.smsc = Session(Role.SMSC, config, clock=self.clock)

    def esme_sends(self, pdu: Pdu) -> list[Event]:
        """ESME sends; returns what the SMSC session reports."""
        return self.smsc.receive_data(self.esme.send(pdu))

    def smsc_sends(self, pdu: Pdu) -> list[Event]:
        return self.esme.receive_data(self.smsc.send(pdu))

    def bind(self, cls: type[Pdu] = BindTransceiver) -> None:
        [event] = self.esme_sends(cls(system_id="esme", password="pw"))
        assert isinstance(event, RequestReceived)
        resp = _BIND_RESP[cls](event.pdu.sequence_number, system_id="smsc")  # type: ignore[index]
        [answer] = self.smsc_sends(resp)
        assert isinstance(answer, ResponseReceived)
        assert answer.request is not None

    def answer(self, event: Event, **fields: object) -> list[Event]:
        """SMSC answers a request it received with its response."""
        assert isinstance(event, RequestReceived)
        cls = response_class(event.pdu.command_id)
        assert cls is not None
        return self.smsc_sends(cls(event.pdu.sequence_number, **fields))


# --- flows -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bind", "state"),
    [
        (BindTransmitter, BindState.BOUND_TX),
        (BindReceiver, BindState.BOUND_RX),
        (BindTransceiver, BindState.BOUND_TRX),
    ],
)
def test_bind_moves_both_ends_to_the_same_state(bind: type[Pdu], state: BindState) -> None:
    pair = SessionPair()
    pair.bind(bind)
    assert pair.esme.state is pair.smsc.state is state
    assert pair.esme.bound and pair.smsc.bound
    assert pair.esme.outstanding == 0


def test_failed_bind_leaves_both_open() -> None:
    pair = SessionPair()
    [event] = pair.esme_sends(BindTransceiver(system_id="esme", password="bad"))
    assert isinstance(event, RequestReceived)
    [answer] = pair.smsc_sends(
        BindTransceiverResp(event.pdu.sequence_number, CommandStatus.ESME_RINVPASWD)
    )
    assert isinstance(answer, ResponseReceived)
    assert answer.pdu.command_status == CommandStatus.ESME_RINVPASWD
    assert pair.esme.state is pair.smsc.state is BindState.OPEN


def test_submit_and_deliver_flow() -> None:
    pair = SessionPair()
    pair.bind()
    submit = SubmitSm(source_addr="123", destination_addr="456", short_message=b"hi")
    [received] = pair.esme_sends(submit)
    assert isinstance(received, RequestReceived)
    assert received.pdu.sequence_number == 2  # the bind took 1
    assert pair.esme.outstanding == 1
    [answered] = pair.answer(received, message_id="m-1")
    assert isinstance(answered, ResponseReceived)
    assert answered.request == SubmitSm(
        2, source_addr="123", destination_addr="456", short_message=b"hi"
    )
    assert answered.pdu == SubmitSmResp(2, message_id="m-1")
    assert pair.esme.outstanding == 0

    [deliver] = pair.smsc_sends(DeliverSm(source_addr="456", destination_addr="123"))
    assert isinstance(deliver, RequestReceived)
    assert pair.esme.peer_outstanding == 1
    [ack] = pair.smsc.receive_data(pair.esme.send(DeliverSmResp(deliver.pdu.sequence_number)))
    assert isinstance(ack, ResponseReceived)
    assert ack.request is not None
    assert pair.esme.peer_outstanding == 0


def test_unbind_flow_closes_both() -> None:
    pair = SessionPair()
    pair.bind()
    [unbind] = pair.esme_sends(Unbind())
    assert pair.esme.state is pair.smsc.state is BindState.UNBINDING
    [done] = pair.answer(unbind)
    assert isinstance(done, ResponseReceived)
    assert pair.esme.state is pair.smsc.state is BindState.CLOSED
    with pytest.raises(LocalProtocolError):
        pair.esme.send(EnquireLink())


def test_responses_still_flow_while_unbinding() -> None:
    pair = SessionPair()
    pair.bind()
    [submit] = pair.esme_sends(SubmitSm())
    [unbind] = pair.smsc_sends(Unbind())
    assert isinstance(unbind, RequestReceived)
    [answered] = pair.answer(submit, message_id="late")
    assert isinstance(answered, ResponseReceived)
    assert answered.request is not None
    # but no new request is allowed
    with pytest.raises(LocalProtocolError):
        pair.esme.send(SubmitSm())


def test_submit_before_bind_is_refused_with_invbndsts_resp() -> None:
    pair = SessionPair()
    frame = encode(SubmitSm(5))
    [event] = pair.smsc.receive_data(frame)
    assert isinstance(event, ProtocolErrorOccurred)
    assert event.error.command_status == CommandStatus.ESME_RINVBNDSTS
    assert event.error.reply == SubmitSmResp(5, CommandStatus.ESME_RINVBNDSTS)
    assert not event.error.fatal
    # the transport can send the ready reply through the session
    assert event.error.reply is not None
    pair.smsc.send(event.error.reply)
    assert pair.smsc.state is BindState.OPEN


def test_second_bind_is_already_bound() -> None:
    pair = SessionPair()
    pair.bind()
    [event] = pair.smsc.receive_data(encode(BindTransmitter(9)))
    assert isinstance(event, ProtocolErrorOccurred)
    assert event.error.command_status == CommandStatus.ESME_RALYBND
    assert event.error.reply == BindTransmitterResp(9, CommandStatus.ESME_RALYBND)


def test_receiver_bind_cannot_submit() -> None:
    pair = SessionPair()
    pair.bind(BindReceiver)
    with pytest.raises(LocalProtocolError):
        pair.esme.send(SubmitSm())
    [event] = pair.smsc.receive_data(encode(SubmitSm(77)))
    assert isinstance(event, ProtocolErrorOccurred)
    assert event.error.reply == SubmitSmResp(77, CommandStatus.ESME_RINVBNDSTS)


def test_unknown_command_gets_generic_nack_and_session_goes_on() -> None:
    pair = SessionPair()
    pair.bind()
    bogus = bytes.fromhex("00000010 00000099 00000000 0000002a")
    [error, enquire] = pair.smsc.receive_data(bogus + encode(EnquireLink(43)))
    assert isinstance(error, ProtocolErrorOccurred)
    assert error.error.reply == GenericNack(42, CommandStatus.ESME_RINVCMDID)
    assert isinstance(enquire, RequestReceived)
    pair.smsc.send(error.error.reply)
    pair.smsc.send(EnquireLinkResp(43))


def test_bad_command_length_is_fatal_and_later_data_ignored() -> None:
    pair = SessionPair()
    good = encode(EnquireLink(1))
    events = pair.smsc.receive_data(good + bytes.fromhex("00000004"))
    assert isinstance(events[0], RequestReceived)
    assert isinstance(events[1], ProtocolErrorOccurred)
    assert events[1].error.fatal
    assert pair.smsc.receive_data(good) == []
    assert pair.smsc.next_deadline() is None


def test_unsolicited_bind_response_is_an_error() -> None:
    pair = SessionPair()
    [event] = pair.esme.receive_data(encode(BindTransceiverResp(5, system_id="x")))
    assert isinstance(event, ProtocolErrorOccurred)
    assert event.error.reply is None
    assert pair.esme.state is BindState.OPEN


def test_response_of_another_command_is_unmatched() -> None:
    pair = SessionPair()
    pair.bind()
    [submit] = pair.esme_sends(SubmitSm())
    seq = submit.pdu.sequence_number  # type: ignore[attr-defined]
    [event] = pair.esme.receive_data(encode(EnquireLinkResp(seq)))
    assert isinstance(event, ResponseReceived)
    assert event.request is None
    assert pair.esme.outstanding == 1


def test_generic_nack_answers_an_outstanding_request() -> None:
    pair = SessionPair()
    pair.bind()
    [submit] = pair.esme_sends(SubmitSm())
    seq = submit.pdu.sequence_number  # type: ignore[attr-defined]
    [event] = pair.smsc_sends(GenericNack(seq, CommandStatus.ESME_RINVCMDLEN))
    assert isinstance(event, ResponseReceived)
    assert isinstance(event.request, SubmitSm)
    assert pair.esme.outstanding == 0


def test_response_must_answer_a_peer_request() -> None:
    pair = SessionPair()
    pair.bind()
    with pytest.raises(LocalProtocolError, match="answers no request"):
        pair.smsc.send(SubmitSmResp(99, message_id="x"))
    [submit] = pair.esme_sends(SubmitSm())
    with pytest.raises(LocalProtocolError):  # right sequence, wrong command
        pair.smsc.send(DeliverSmResp(submit.pdu.sequence_number))  # type: ignore[attr-defined]


def test_encode_failure_changes_nothing() -> None:
    pair = SessionPair()
    pair.bind()
    with pytest.raises(LocalProtocolError):
        pair.esme.send(SubmitSm(source_addr="x" * 30))
    assert pair.esme.outstanding == 0


def test_outbind_then_bind_receiver() -> None:
    pair = SessionPair()
    [event] = pair.smsc_sends(Outbind(system_id="smsc", password="pw"))
    assert isinstance(event, RequestReceived)
    assert pair.esme.state is BindState.OPEN
    pair.bind(BindReceiver)
    assert pair.esme.state is BindState.BOUND_RX


def test_second_bind_while_one_is_in_flight_is_refused() -> None:
    pair = SessionPair()
    pair.esme.send(BindTransceiver())
    with pytest.raises(LocalProtocolError, match="already"):
        pair.esme.send(BindTransmitter())


# --- window and sequence numbers -------------------------------------------------------------


def test_window_is_enforced_and_freed_by_responses() -> None:
    pair = SessionPair(SessionConfig(window=3))
    pair.bind()
    received = [pair.esme_sends(SubmitSm())[0] for _ in range(3)]
    assert pair.esme.outstanding == 3
    assert pair.esme.window_available == 0
    with pytest.raises(LocalProtocolError, match="window"):
        pair.esme.send(SubmitSm())
    # keep-alives and unbind do not take a window slot
    pair.esme.send(EnquireLink())
    pair.answer(received[0], message_id="1")
    assert pair.esme.window_available == 1
    pair.esme.send(SubmitSm())


def test_next_sequence_number_is_used_for_the_pdu() -> None:
    pair = SessionPair()
    pair.bind()
    seq = pair.esme.next_sequence_number()
    [event] = pair.esme_sends(SubmitSm(seq))
    assert event.pdu.sequence_number == seq  # type: ignore[attr-defined]
    assert pair.esme.next_sequence_number() == seq + 1


def test_sequence_numbers_wrap_to_1() -> None:
    pair = SessionPair(first_sequence_number=0x7FFFFFFE)
    assert pair.esme.next_sequence_number() == 0x7FFFFFFE
    assert pair.esme.next_sequence_number() == 0x7FFFFFFF
    assert pair.esme.next_sequence_number() == 1


def test_wrapping_skips_numbers_still_outstanding() -> None:
    pair = SessionPair(first_sequence_number=0x7FFFFFFF)
    pair.bind()  # takes 0x7FFFFFFF, then wraps
    pair.esme.send(SubmitSm(1))
    assert pair.esme.next_sequence_number() == 2


def test_duplicate_outstanding_sequence_number_is_refused() -> None:
    pair = SessionPair()
    pair.bind()
    pair.esme.send(SubmitSm(50))
    with pytest.raises(LocalProtocolError, match="already awaiting"):
        pair.esme.send(SubmitSm(50))


@pytest.mark.parametrize("seq", [-1, 0x80000000])
def test_sequence_number_out_of_range_is_refused(seq: int) -> None:
    pair = SessionPair()
    pair.bind()
    with pytest.raises(LocalProtocolError):
        pair.esme.send(SubmitSm(seq))


# --- timers ----------------------------------------------------------------------------------


def test_response_timeout_frees_the_window() -> None:
    config = SessionConfig(response_timeout=5.0, enquire_link_interval=100.0)
    pair = SessionPair(config)
    pair.bind()
    pair.esme_sends(SubmitSm())
    deadline = pair.esme.next_deadline()
    assert deadline == pair.clock.now + 5.0
    assert pair.esme.handle_timer(deadline - 0.1) == []
    [event] = pair.esme.handle_timer(deadline)
    assert isinstance(event, ResponseTimedOut)
    assert isinstance(event.request, SubmitSm)
    assert pair.esme.outstanding == 0
    # a late response is now unmatched
    [late] = pair.smsc_sends(SubmitSmResp(event.request.sequence_number, message_id="x"))
    assert isinstance(late, ResponseReceived)
    assert late.request is None


def test_enquire_link_due_after_idle_interval_then_answered() -> None:
    config = SessionConfig(enquire_link_interval=30.0, link_timeout=10.0)
    pair = SessionPair(config)
    pair.bind()
    deadline = pair.esme.next_deadline()
    assert deadline == pair.clock.now + 30.0
    pair.clock.advance(30.0)
    assert pair.esme.handle_timer(pair.clock.now) == [EnquireLinkDue()]
    [enquire] = pair.esme_sends(EnquireLink())
    assert pair.esme.next_deadline() == pair.clock.now + 10.0
    [answered] = pair.answer(enquire)
    assert isinstance(answered, ResponseReceived)
    assert pair.esme.next_deadline() == pair.clock.now + 30.0


def test_received_traffic_postpones_enquire_link() -> None:
    pair = SessionPair(SessionConfig(enquire_link_interval=30.0))
    pair.bind()
    pair.clock.advance(20.0)
    pair.smsc_sends(DeliverSm())
    assert pair.esme.handle_timer(pair.clock.now + 15.0) == []
    assert pair.esme.next_deadline() == pair.clock.now + 30.0


def test_enquire_link_due_repeats_if_ignored() -> None:
    pair = SessionPair(SessionConfig(enquire_link_interval=30.0))
    pair.bind()
    now = pair.clock.now
    assert pair.esme.handle_timer(now + 30.0) == [EnquireLinkDue()]
    assert pair.esme.handle_timer(now + 31.0) == []
    assert pair.esme.handle_timer(now + 60.0) == [EnquireLinkDue()]


def test_link_timeout_when_peer_silent() -> None:
    pair = SessionPair(SessionConfig(enquire_link_interval=30.0, link_timeout=10.0))
    pair.bind()
    pair.clock.advance(30.0)
    pair.esme.send(EnquireLink())
    pair.clock.advance(10.0)
    assert pair.esme.handle_timer(pair.clock.now) == [LinkTimedOut()]


def test_unanswered_enquire_link_with_other_traffic_is_not_a_dead_link() -> None:
    pair = SessionPair(SessionConfig(enquire_link_interval=30.0, link_timeout=10.0))
    pair.bind()
    pair.esme.send(EnquireLink())
    pair.clock.advance(5.0)
    pair.smsc_sends(DeliverSm())
    pair.clock.advance(5.0)
    [event] = pair.esme.handle_timer(pair.clock.now)
    assert isinstance(event, ResponseTimedOut)


def test_no_enquire_link_before_bind() -> None:
    pair = SessionPair()
    assert pair.esme.next_deadline() is None
    assert pair.esme.handle_timer(pair.clock.now + 1000) == []


def test_connection_closed_returns_unanswered_requests() -> None:
    pair = SessionPair()
    pair.bind()
    pair.esme_sends(SubmitSm(short_message=b"a"))
    pair.esme_sends(SubmitSm(short_message=b"b"))
    [closed] = pair.esme.receive_data(b"")
    assert isinstance(closed, ConnectionClosed)
    assert [p.short_message for p in closed.unanswered] == [b"a", b"b"]  # type: ignore[attr-defined]
    assert pair.esme.state is BindState.CLOSED
    assert pair.esme.outstanding == 0
    assert pair.esme.next_deadline() is None


# --- the transition table, exhaustively --------------------------------------------------------


def session_in(role: Role, state: BindState) -> Session:
    """A session of ``role`` driven into ``state`` through the public API."""
    pair = SessionPair()
    if state in (
        BindState.BOUND_TX,
        BindState.BOUND_RX,
        BindState.BOUND_TRX,
        BindState.UNBINDING,
        BindState.CLOSED,
    ):
        bind = {BindState.BOUND_TX: BindTransmitter, BindState.BOUND_RX: BindReceiver}.get(
            state, BindTransceiver
        )
        pair.bind(bind)
    if state in (BindState.UNBINDING, BindState.CLOSED):
        [unbind] = pair.esme_sends(Unbind())
        if state is BindState.CLOSED:
            pair.answer(unbind)
    session = pair.esme if role is Role.ESME else pair.smsc
    assert session.state is state
    return session


STATES = list(BindState)
CLASSES = sorted(PDU_CLASSES.values(), key=lambda c: c.command_id)


@pytest.mark.parametrize(
    ("role", "state", "cls", "status"),
    [
        (role, state, cls, status)
        for role, state, cls in itertools.product(Role, STATES, CLASSES)
        for status in ((0, CommandStatus.ESME_RSYSERR) if cls.command_id & 0x80000000 else (0,))
    ],
    ids=lambda v: getattr(v, "name", None) or getattr(v, "__name__", None) or str(v),
)
def test_receiving_follows_the_table(
    role: Role, state: BindState, cls: type[Pdu], status: int
) -> None:
    session = session_in(role, state)
    peer = Role.SMSC if role is Role.ESME else Role.ESME
    command = CommandId(cls.command_id)
    expected = TRANSITIONS.get((state, (peer, command, status == 0)))
    events = session.receive_data(encode(cls(777, status)))
    [event] = events
    unsolicited_bind_ok = (
        command
        in (
            CommandId.BIND_TRANSMITTER_RESP,
            CommandId.BIND_RECEIVER_RESP,
            CommandId.BIND_TRANSCEIVER_RESP,
        )
        and status == 0
    )
    if expected is None or unsolicited_bind_ok:
        assert isinstance(event, ProtocolErrorOccurred)
        assert session.state is state
        if cls.command_id & 0x80000000:
            assert event.error.reply is None
        elif state is BindState.CLOSED:
            assert event.error.reply is None
            assert event.error.fatal
        else:
            assert event.error.reply is not None
            assert event.error.reply.sequence_number == 777
            assert event.error.command_status in (
                CommandStatus.ESME_RINVBNDSTS,
                CommandStatus.ESME_RALYBND,
            )
    else:
        kind = ResponseReceived if cls.command_id & 0x80000000 else RequestReceived
        assert isinstance(event, kind)
        assert session.state is expected


@pytest.mark.parametrize(
    ("role", "state", "cls"),
    [
        (r, s, c)
        for r, s, c in itertools.product(Role, STATES, CLASSES)
        if not c.command_id & 0x80000000
    ],
    ids=lambda v: getattr(v, "name", None) or getattr(v, "__name__", None) or str(v),
)
def test_sending_requests_follows_the_table(role: Role, state: BindState, cls: type[Pdu]) -> None:
    session = session_in(role, state)
    expected = TRANSITIONS.get((state, (role, CommandId(cls.command_id), True)))
    if expected is None:
        with pytest.raises(LocalProtocolError):
            session.send(cls())
        assert session.state is state
    else:
        session.send(cls())
        assert session.state is expected


@pytest.mark.parametrize(
    ("role", "state", "cls", "status"),
    [
        (role, state, cls, status)
        for role, state, cls in itertools.product(Role, STATES, CLASSES)
        if cls.command_id & 0x80000000
        for status in (0, CommandStatus.ESME_RSYSERR)
    ],
    ids=lambda v: getattr(v, "name", None) or getattr(v, "__name__", None) or str(v),
)
def test_sending_unasked_responses_is_refused_except_generic_nack(
    role: Role, state: BindState, cls: type[Pdu], status: int
) -> None:
    session = session_in(role, state)
    expected = TRANSITIONS.get((state, (role, CommandId(cls.command_id), status == 0)))
    if cls is GenericNack and expected is not None:
        session.send(cls(555, status))
        assert session.state is expected
    else:
        with pytest.raises(LocalProtocolError):
            session.send(cls(555, status))
        assert session.state is state


def test_table_entries_never_leave_closed() -> None:
    assert not [key for key in TRANSITIONS if key[0] is BindState.CLOSED]
