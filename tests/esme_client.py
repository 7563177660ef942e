"""A minimal ESME for tests: our sans-IO Session over asyncio streams, fully under the test's
control (send raw bytes, send PDUs without waiting, read PDUs one by one)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses

from gateway.smpp.framing import Framer
from gateway.smpp.pdu import (
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    Pdu,
    SubmitSm,
    decode,
    encode,
)
from gateway.smpp.session import (
    ConnectionClosed,
    ProtocolErrorOccurred,
    RequestReceived,
    ResponseReceived,
    Role,
    Session,
    SessionConfig,
)

DEST = "4915112345678"


class TestEsme:
    __test__ = False  # not a pytest class

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, raw: bool = False
    ) -> None:
        self.reader = reader
        self.writer = writer
        # raw: no session between the test and the wire, so a test can break the protocol.
        self.raw = raw
        self.framer = Framer()
        self.session = Session(Role.ESME, SessionConfig(window=10_000, response_timeout=60))
        self.inbox: list[Pdu] = []
        self.closed = False
        self.auto_ack = True

    @classmethod
    async def connect(cls, port: int, *, raw: bool = False) -> TestEsme:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer, raw=raw)

    async def bind(self, kind: str = "trx", *, system_id: str = "demo", password: str) -> int:
        pdu_type = {"tx": BindTransmitter, "rx": BindReceiver, "trx": BindTransceiver}[kind]
        response = await self.request(pdu_type(system_id=system_id, password=password))
        return response.command_status

    def send(self, pdu: Pdu) -> Pdu:
        if pdu.sequence_number == 0 and not int(pdu.command_id) & 0x80000000:
            pdu = dataclasses.replace(pdu, sequence_number=self.session.next_sequence_number())
        self.writer.write(encode(pdu) if self.raw else self.session.send(pdu))
        return pdu

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)

    async def request(self, pdu: Pdu, timeout: float = 10) -> Pdu:
        sent = self.send(pdu)
        return await self.wait_for(
            lambda p: (
                p.sequence_number == sent.sequence_number and bool(int(p.command_id) & 0x80000000)
            ),
            timeout=timeout,
        )

    async def read(self, timeout: float = 10) -> Pdu | None:
        """The next PDU from the server (answering deliver_sm and enquire_link), None on close."""
        while not self.inbox:
            if self.closed:
                return None
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if self.raw:
                if not data:
                    self.closed = True
                self.inbox.extend(decode(frame) for frame in self.framer.feed(data))
                continue
            for event in self.session.receive_data(data):
                match event:
                    case RequestReceived(pdu=DeliverSm() as pdu):
                        if self.auto_ack:
                            self.send(DeliverSmResp(sequence_number=pdu.sequence_number))
                        self.inbox.append(pdu)
                    case RequestReceived(pdu=EnquireLink() as pdu):
                        self.send(EnquireLinkResp(sequence_number=pdu.sequence_number))
                    case RequestReceived(pdu=pdu) | ResponseReceived(pdu=pdu):
                        self.inbox.append(pdu)
                    case ProtocolErrorOccurred(error=error):
                        raise AssertionError(f"server sent something invalid: {error!r}")
                    case ConnectionClosed():
                        self.closed = True
        return self.inbox.pop(0)

    async def wait_for(self, match: object, timeout: float = 10) -> Pdu:
        deadline = asyncio.get_running_loop().time() + timeout
        kept: list[Pdu] = []
        try:
            while True:
                left = deadline - asyncio.get_running_loop().time()
                pdu = await self.read(timeout=max(left, 0.01))
                if pdu is None:
                    raise AssertionError("connection closed while waiting")
                if match(pdu):  # type: ignore[operator]
                    return pdu
                kept.append(pdu)
        finally:
            self.inbox[:0] = kept

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


def submit(text: bytes = b"hello", *, receipt: int = 1, **fields: object) -> SubmitSm:
    base: dict[str, object] = {
        "source_addr_ton": 5,
        "source_addr": "Acme",
        "dest_addr_ton": 1,
        "dest_addr_npi": 1,
        "destination_addr": DEST,
        "registered_delivery": receipt,
        "short_message": text,
    }
    base.update(fields)
    return SubmitSm(**base)  # type: ignore[arg-type]
