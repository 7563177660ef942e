"""The session's slowloris deadlines, driven by a fake clock: bind_timeout and pdu_timeout."""

from __future__ import annotations

from gateway.smpp.pdu import BindTransceiver, BindTransceiverResp, EnquireLink, encode
from gateway.smpp.session import (
    BindTimedOut,
    PduTimedOut,
    Role,
    Session,
    SessionConfig,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _session(clock: Clock, **config: float) -> Session:
    return Session(Role.SMSC, SessionConfig(**config), clock=clock)  # type: ignore[arg-type]


def test_unbound_session_times_out_after_bind_timeout() -> None:
    clock = Clock()
    session = _session(clock, bind_timeout=5.0)
    assert session.next_deadline() == 105.0
    assert session.handle_timer(104.9) == []
    assert session.handle_timer(105.0) == [BindTimedOut()]
    assert session.handle_timer(106.0) == []  # reported once


def test_bound_session_has_no_bind_deadline() -> None:
    clock = Clock()
    session = _session(clock, bind_timeout=5.0, enquire_link_interval=1000.0)
    session.receive_data(encode(BindTransceiver(1)))
    session.send(BindTransceiverResp(1))
    assert session.next_deadline() == 100.0 + 1000.0  # only the enquire_link timer
    assert BindTimedOut() not in session.handle_timer(200.0)


def test_no_bind_timeout_by_default() -> None:
    assert _session(Clock()).next_deadline() is None


def test_pdu_deadline_starts_at_the_first_octet_and_is_not_reset_by_dribbling() -> None:
    clock = Clock()
    session = _session(clock, pdu_timeout=3.0)
    data = encode(EnquireLink(1))
    for octet in data[:10]:
        assert session.receive_data(bytes([octet])) == []
        clock.now += 1.0
    assert session.next_deadline() == 103.0
    assert session.handle_timer(clock.now) == [PduTimedOut(buffered=10)]


def test_completed_pdu_clears_the_deadline_and_a_new_partial_restarts_it() -> None:
    clock = Clock()
    session = _session(clock, pdu_timeout=3.0)
    data = encode(EnquireLink(1))
    session.receive_data(data[:5])
    clock.now = 102.0
    session.receive_data(data[5:] + data[:3])  # completes one (invalid when unbound), starts one
    assert session.next_deadline() == 105.0
    clock.now = 104.0
    events = session.receive_data(data[3:])
    assert all(not isinstance(e, PduTimedOut) for e in events)
    assert session.next_deadline() is None


def test_unbind_before_bind_is_refused_with_an_unbind_resp_the_session_can_send() -> None:
    # Found by the session fuzz target: the reply the session offered was one it refused to
    # send, so the ESME got no answer at all.
    from gateway.smpp.codes import CommandStatus
    from gateway.smpp.pdu import Unbind, UnbindResp
    from gateway.smpp.session import ProtocolErrorOccurred
    from gateway.smpp.state import BindState

    session = _session(Clock())
    (event,) = session.receive_data(encode(Unbind(5)))
    assert isinstance(event, ProtocolErrorOccurred)
    reply = event.error.reply
    assert reply == UnbindResp(5, CommandStatus.ESME_RINVBNDSTS)
    session.send(reply)
    assert session.state is BindState.OPEN


def test_malformed_unbind_while_bound_is_answered_and_the_bind_stays() -> None:
    # Found by the session fuzz target (a million cases): an unbind with trailing octets got
    # an error unbind_resp the session then refused to send in a bound state.
    from gateway.smpp.codes import CommandStatus
    from gateway.smpp.pdu import Unbind, UnbindResp
    from gateway.smpp.session import ProtocolErrorOccurred
    from gateway.smpp.state import BindState

    session = _session(Clock())
    session.receive_data(encode(BindTransceiver(1)))
    session.send(BindTransceiverResp(1))
    frame = bytearray(encode(Unbind(13)) + b"\x00" * 3)
    frame[0:4] = len(frame).to_bytes(4, "big")
    (event,) = session.receive_data(bytes(frame))
    assert isinstance(event, ProtocolErrorOccurred)
    assert event.error.reply == UnbindResp(13, CommandStatus.ESME_RINVCMDLEN)
    session.send(event.error.reply)
    assert session.state is BindState.BOUND_TRX
