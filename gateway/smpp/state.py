"""The bind state machine of SMPP 3.4 §2.2-§2.3 as one table (h11 ``_state.py``, h2 transitions).

Both peers track the same session state, so the table is keyed by who *sends* a PDU, not by
whether we send or receive it: an SMSC sending bind_transceiver_resp with status 0 and an ESME
receiving that same PDU both look up ``(OPEN, (SMSC, BIND_TRANSCEIVER_RESP, True))`` and both move
to BOUND_TRX. Anything missing from the table is a protocol error: ``LocalProtocolError`` when we
send it, ``ESME_RINVBNDSTS`` (or ``ESME_RALYBND``) when the peer does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import Enum
from types import MappingProxyType

from gateway.smpp.codes import CommandId

__all__ = [
    "BIND_REQUESTS",
    "BOUND_STATES",
    "TRANSITIONS",
    "BindState",
    "Input",
    "Role",
    "next_state",
]


class Role(Enum):
    """Which end of the session we are."""

    ESME = "esme"
    SMSC = "smsc"

    # Members are singletons compared by identity, so hashing by identity is consistent, and
    # it runs in C: Enum's own __hash__ is a Python call, made twice per PDU by the lookup in
    # TRANSITIONS.
    __hash__ = object.__hash__


class BindState(Enum):
    """SMPP 3.4 §2.2 session states (UNBINDING: an unbind is awaiting its unbind_resp)."""

    OPEN = "open"
    BOUND_TX = "bound_tx"
    BOUND_RX = "bound_rx"
    BOUND_TRX = "bound_trx"
    UNBINDING = "unbinding"
    CLOSED = "closed"

    __hash__ = object.__hash__  # as Role's


# (sender, command_id, command_status == 0). The status matters only to responses: a bind
# response moves the session to a bound state only when it says ESME_ROK.
Input = tuple[Role, CommandId, bool]

_E, _S = Role.ESME, Role.SMSC
_C = CommandId
OPEN, TX, RX, TRX = BindState.OPEN, BindState.BOUND_TX, BindState.BOUND_RX, BindState.BOUND_TRX
UNBINDING, CLOSED = BindState.UNBINDING, BindState.CLOSED

BOUND_STATES = frozenset((TX, RX, TRX))
_LIVE = (OPEN, TX, RX, TRX, UNBINDING)
# Where the transmitter side of a session (ESME -> SMSC traffic) is open, and the receiver side.
_SENDS = (TX, TRX)
_RECEIVES = (RX, TRX)

BIND_REQUESTS = frozenset((_C.BIND_TRANSMITTER, _C.BIND_RECEIVER, _C.BIND_TRANSCEIVER))
_BIND_TARGET = {
    _C.BIND_TRANSMITTER_RESP: TX,
    _C.BIND_RECEIVER_RESP: RX,
    _C.BIND_TRANSCEIVER_RESP: TRX,
}

_table: dict[tuple[BindState, Input], BindState] = {}


def _allow(
    states: Iterable[BindState],
    sender: Role,
    command: CommandId,
    target: BindState | None = None,
    *,
    ok: bool = True,
) -> None:
    for state in states:
        _table[(state, (sender, command, ok))] = target if target is not None else state


# §2.2.1 / §4.1: binding. An ESME binds from OPEN; the SMSC's successful response decides the
# bound state; outbind (§4.1.7) asks the ESME to bind and changes nothing itself.
for _bind in BIND_REQUESTS:
    _allow([OPEN], _E, _bind)
for _resp, _bound in _BIND_TARGET.items():
    _allow([OPEN], _S, _resp, _bound)
_allow([OPEN], _S, _C.OUTBIND)

# §2.3 table 2-1: what each bind type may carry. ESME -> SMSC operations need a transmitter
# bind; SMSC -> ESME ones a receiver bind. Responses may still arrive while unbinding (§2.2.2:
# outstanding operations are completed before the unbind_resp).
for _req in (_C.SUBMIT_SM, _C.SUBMIT_MULTI, _C.DATA_SM, _C.QUERY_SM, _C.CANCEL_SM, _C.REPLACE_SM):
    _allow(_SENDS, _E, _req)
    _allow((*_SENDS, UNBINDING), _S, _C(_req | 0x80000000))
for _req in (_C.DELIVER_SM, _C.DATA_SM):
    _allow(_RECEIVES, _S, _req)
    _allow((*_RECEIVES, UNBINDING), _E, _C(_req | 0x80000000))
_allow(_RECEIVES, _S, _C.ALERT_NOTIFICATION)

for _side in (_E, _S):
    # §4.11: enquire_link from either side. SMPP 3.4 lists it for bound states; SMPP 5.0 §2.4
    # also allows it while OPEN, and peers do send it before binding, so we accept it there.
    _allow(_LIVE, _side, _C.ENQUIRE_LINK)
    _allow(_LIVE, _side, _C.ENQUIRE_LINK_RESP)
    # §4.2: either side may unbind a bound session; its unbind_resp ends the session.
    _allow(BOUND_STATES, _side, _C.UNBIND, UNBINDING)
    _allow([UNBINDING], _side, _C.UNBIND_RESP, CLOSED)
    _allow([UNBINDING], _side, _C.UNBIND_RESP, CLOSED, ok=False)
    # An unbind refused outside UNBINDING (before any bind: ESME_RINVBNDSTS; a malformed one
    # while bound: its decode error) gets an unbind_resp carrying the error, which changes
    # nothing: every request gets its answer.
    _allow([OPEN, *BOUND_STATES], _side, _C.UNBIND_RESP, ok=False)
    # §4.3: generic_nack answers any unusable PDU, in any live state, and changes nothing.
    _allow(_LIVE, _side, _C.GENERIC_NACK)
    _allow(_LIVE, _side, _C.GENERIC_NACK, ok=False)
    # A refusal (non-zero command_status) never changes the state and is always allowed while
    # the connection lives: it is how a request not allowed in this state gets answered, e.g.
    # submit_sm_resp/ESME_RINVBNDSTS before bind, bind_transmitter_resp/ESME_RALYBND when bound.
    for _cmd in _C:
        if _cmd & 0x80000000 and _cmd not in (_C.GENERIC_NACK, _C.UNBIND_RESP):
            _allow(_LIVE, _side, _cmd, ok=False)

TRANSITIONS: Mapping[tuple[BindState, Input], BindState] = MappingProxyType(_table)


def next_state(state: BindState, sender: Role, command_id: CommandId, ok: bool) -> BindState | None:
    """The state after ``sender`` sends ``command_id`` in ``state``; None if not allowed."""
    return TRANSITIONS.get((state, (sender, command_id, ok)))
