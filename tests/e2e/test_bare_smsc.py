"""The bare SMSC that smpp-ingest measures its baseline against answers what the ESME load
needs, from the header alone, however the bytes arrive: a PDU split across writes, several in
one write, an unknown command (generic_nack), unbind (answered, then the connection closes)."""

from __future__ import annotations

import socket
import struct
from pathlib import Path

from benchmarks.processes import BareSmscProcess

HEADER = struct.Struct(">IIII")


def _pdu(command_id: int, sequence: int, body: bytes = b"") -> bytes:
    return HEADER.pack(16 + len(body), command_id, 0, sequence) + body


def _read(sock: socket.socket) -> tuple[int, int, int, bytes]:
    head = b""
    while len(head) < 16:
        chunk = sock.recv(16 - len(head))
        assert chunk, "closed before a response"
        head += chunk
    length, command_id, status, sequence = HEADER.unpack(head)
    body = b""
    while len(body) < length - 16:
        body += sock.recv(length - 16 - len(body))
    return command_id, status, sequence, body


def test_bare_smsc_answers_from_the_header(tmp_path: Path) -> None:
    with BareSmscProcess(tmp_path) as smsc:
        smsc.wait_ready(timeout=15)
        with socket.create_connection(("127.0.0.1", smsc.port), timeout=5) as sock:
            bind = _pdu(0x09, 1, b"esme\x00secret\x00\x00\x34\x00\x00\x00")
            sock.sendall(bind[:7])  # a header split across writes
            sock.sendall(bind[7:])
            assert _read(sock) == (0x80000009, 0, 1, b"bare\x00")
            sock.sendall(_pdu(0x04, 2, b"x" * 40) + _pdu(0x04, 3, b"y" * 40) + _pdu(0x15, 4))
            first, second = _read(sock), _read(sock)
            assert (first[:3], second[:3]) == ((0x80000004, 0, 2), (0x80000004, 0, 3))
            assert first[3].endswith(b"\x00") and first[3] != second[3]  # distinct message ids
            assert _read(sock) == (0x80000015, 0, 4, b"")
            sock.sendall(_pdu(0x80000005, 9))  # a deliver_sm_resp: nothing to answer
            sock.sendall(_pdu(0x99, 5))  # unknown command
            assert _read(sock) == (0x80000000, 0x03, 5, b"")  # generic_nack, ESME_RINVCMDID
            sock.sendall(_pdu(0x06, 6))
            assert _read(sock) == (0x80000006, 0, 6, b"")
            assert sock.recv(1) == b""  # closed after unbind_resp
    assert smsc.proc is not None and smsc.proc.returncode == 0
