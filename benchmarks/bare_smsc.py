"""A bare SMSC on uvloop: the floor an SMPP server's request/response costs on this machine.

`python -m benchmarks.bare_smsc --port N` frames PDUs by command_length and answers from the
16-octet header alone: bind_* with the matching *_resp (status 0), submit_sm with a
submit_sm_resp carrying a short message id, enquire_link and unbind with theirs (closing after
unbind_resp), any other request with generic_nack (ESME_RINVCMDID); responses are ignored. No
body parsing, no receipts, no store: smpp-ingest runs its ESME load against it to put the
gateway's rate next to what a minimal uvloop TCP request/response reaches at the same window.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import struct
from typing import cast

import uvloop

_HEADER = struct.Struct(">IIII")  # command_length, command_id, command_status, sequence_number
_MAX_PDU = 64 * 1024

BIND_RECEIVER, BIND_TRANSMITTER, BIND_TRANSCEIVER = 0x00000001, 0x00000002, 0x00000009
SUBMIT_SM, UNBIND, ENQUIRE_LINK = 0x00000004, 0x00000006, 0x00000015
GENERIC_NACK = 0x80000000
ESME_RINVCMDID = 0x00000003
_SYSTEM_ID = b"bare\x00"


def _pdu(command_id: int, status: int, sequence: int, body: bytes = b"") -> bytes:
    return _HEADER.pack(16 + len(body), command_id, status, sequence) + body


class BareSmsc(asyncio.Protocol):
    def __init__(self) -> None:
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._next_id = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCPTransport implements asyncio.Transport without subclassing it.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        transport = self._transport
        assert transport is not None
        buffer = self._buffer
        buffer += data
        out: list[bytes] = []
        offset = 0
        close = False
        while len(buffer) - offset >= 16:
            length, command_id, _, sequence = _HEADER.unpack_from(buffer, offset)
            if length < 16 or length > _MAX_PDU:
                close = True  # unframeable: nothing after it can be read
                break
            if len(buffer) - offset < length:
                break
            offset += length
            if command_id & GENERIC_NACK:
                continue  # a response (deliver_sm_resp, enquire_link_resp): nothing to answer
            if command_id == SUBMIT_SM:
                self._next_id += 1
                out.append(_pdu(command_id | GENERIC_NACK, 0, sequence, b"%x\x00" % self._next_id))
            elif command_id in (BIND_RECEIVER, BIND_TRANSMITTER, BIND_TRANSCEIVER):
                out.append(_pdu(command_id | GENERIC_NACK, 0, sequence, _SYSTEM_ID))
            elif command_id in (ENQUIRE_LINK, UNBIND):
                out.append(_pdu(command_id | GENERIC_NACK, 0, sequence))
                close = close or command_id == UNBIND
            else:
                out.append(_pdu(GENERIC_NACK, ESME_RINVCMDID, sequence))
        del buffer[:offset]
        if out:
            transport.write(b"".join(out))
        if close:
            transport.close()


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(BareSmsc, host, port)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
