"""Who is at fault, and what to answer (h11 ``_util.py`` style).

``LocalProtocolError``: we tried to do something the protocol forbids (a bug on our side).
``RemoteProtocolError``: the peer sent something malformed or out of place; it carries the
command_status to answer with and a ready reply PDU, so the transport answers and goes on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.smpp.pdu import Pdu

__all__ = ["LocalProtocolError", "RemoteProtocolError", "SmppError"]


class SmppError(Exception):
    """Base of every error raised by ``gateway.smpp``."""


class LocalProtocolError(SmppError):
    """Our own misuse of the protocol: a PDU not allowed now, a field too long, a full window."""


class RemoteProtocolError(SmppError):
    """The peer broke the protocol.

    ``command_status`` is the status to answer with, ``reply`` the PDU to send (a generic_nack,
    or the request's response carrying that status), or None when nothing should be sent (a bad
    response is not answered). ``fatal`` means the byte stream cannot be resynchronised (bad
    command_length): send the reply, then close the connection.
    """

    def __init__(
        self,
        message: str,
        *,
        command_status: int,
        reply: Pdu | None = None,
        fatal: bool = False,
    ) -> None:
        super().__init__(message)
        self.command_status = command_status
        self.reply = reply
        self.fatal = fatal

    def __repr__(self) -> str:
        return (
            f"RemoteProtocolError({self.args[0]!r}, command_status=0x{self.command_status:08X}, "
            f"reply={self.reply!r}, fatal={self.fatal})"
        )


class FieldError(SmppError):
    """A mandatory field or TLV of a body is malformed; raised while decoding a body.

    Internal: ``pdu.decode`` turns it into a ``RemoteProtocolError`` with the reply for the PDU's
    command id and sequence number, which only it knows.
    """

    def __init__(self, message: str, command_status: int) -> None:
        super().__init__(message)
        self.command_status = command_status
