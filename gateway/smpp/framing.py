"""Splitting a TCP byte stream into whole PDUs (SMPP 3.4 §3.2: command_length leads each PDU)."""

from __future__ import annotations

import struct

from gateway.smpp.codes import CommandStatus
from gateway.smpp.errors import RemoteProtocolError
from gateway.smpp.pdu import GenericNack

__all__ = ["MIN_COMMAND_LENGTH", "Framer"]

# The header alone is 16 octets (SMPP 3.4 §3.2), so no PDU is shorter.
MIN_COMMAND_LENGTH = 16
_LENGTH = struct.Struct(">I")
_SEQUENCE = struct.Struct(">I")


class Framer:
    """Cuts a byte stream into frames of exactly command_length octets.

    The length is checked as soon as its 4 octets arrive, before any of the body is buffered
    (gosmpp ``pdu.Parse``): a peer announcing a 2 GB PDU is refused at once, and the buffer never
    holds more than one partial frame of at most ``max_command_length`` octets. After a bad
    length the stream cannot be resynchronised, so the error is fatal and the framer stays
    broken: every later ``feed`` raises it again.
    """

    __slots__ = ("_buffer", "_error", "_expected", "_pending_error", "max_command_length")

    def __init__(self, max_command_length: int = 65536) -> None:
        if max_command_length < MIN_COMMAND_LENGTH:
            raise ValueError(f"max_command_length must be at least {MIN_COMMAND_LENGTH}")
        self.max_command_length = max_command_length
        self._buffer = bytearray()
        self._expected = 0  # command_length of the partial frame in the buffer, 0 if unknown
        self._error: RemoteProtocolError | None = None
        self._pending_error = False

    @property
    def buffered(self) -> int:
        """Octets held for an incomplete frame."""
        return len(self._buffer)

    @property
    def pending_error(self) -> bool:
        """True when the last ``feed`` returned frames that preceded a bad header: the error
        is raised by the next ``feed`` (``feed(b"")`` will do), after those frames are handled."""
        return self._pending_error

    def feed(self, data: bytes) -> list[bytes]:
        """Return the frames completed by ``data``, in order.

        Raises ``RemoteProtocolError`` (fatal, ESME_RINVCMDLEN) on a command_length below 16 or
        above the maximum. Frames completed earlier in the same ``data`` are returned first and
        the error comes on the following call (see ``pending_error``).
        """
        if self._error is not None:
            self._pending_error = False
            raise self._error
        frames: list[bytes] = []
        view = memoryview(data)
        pos = 0
        size = len(view)
        buffer = self._buffer
        while pos < size:
            if buffer:
                # Complete the partial frame first, taking only what it still needs.
                if len(buffer) < 4:
                    take = min(4 - len(buffer), size - pos)
                    buffer += view[pos : pos + take]
                    pos += take
                    if len(buffer) < 4:
                        break
                    self._expected = self._check(buffer, 0)
                    if not self._expected:
                        return self._fail(frames)
                take = min(self._expected - len(buffer), size - pos)
                buffer += view[pos : pos + take]
                pos += take
                if len(buffer) == self._expected:
                    frames.append(bytes(buffer))
                    buffer.clear()
                    self._expected = 0
                continue
            if size - pos < 4:
                buffer += view[pos:]
                break
            length = self._check(view, pos)
            if not length:
                return self._fail(frames)
            if size - pos >= length:
                frames.append(bytes(view[pos : pos + length]))
                pos += length
            else:
                buffer += view[pos:]
                self._expected = length
                break
        return frames

    def _check(self, data: bytearray | memoryview, pos: int) -> int:
        """The command_length at ``pos`` if acceptable, else 0 with ``_error`` set."""
        (length,) = _LENGTH.unpack_from(data, pos)
        if MIN_COMMAND_LENGTH <= length <= self.max_command_length:
            return int(length)
        # Answer with the sequence number when it has arrived: it lets the peer match the nack.
        sequence = _SEQUENCE.unpack_from(data, pos + 12)[0] if len(data) - pos >= 16 else 0
        self._error = RemoteProtocolError(
            f"command_length {length} outside {MIN_COMMAND_LENGTH}..{self.max_command_length}",
            command_status=CommandStatus.ESME_RINVCMDLEN,
            reply=GenericNack(sequence, CommandStatus.ESME_RINVCMDLEN),
            fatal=True,
        )
        return 0

    def _fail(self, frames: list[bytes]) -> list[bytes]:
        self._buffer.clear()
        assert self._error is not None
        if frames:
            self._pending_error = True
            return frames
        raise self._error
