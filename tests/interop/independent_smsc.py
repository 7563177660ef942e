"""An SMSC for interop tests built on smpplib's PDUs, not ours.

gateway/simulator.py shares our codec (gateway.smpp), so a codec bug on both sides of a test
would cancel out. This server frames, decodes and encodes with smpplib (`smpplib.smpp.parse_pdu`,
`smpplib.smpp.make_pdu`) and never imports gateway.smpp: what it records of each submit_sm is
what another implementation read off the wire.

It plays the carrier behaviours the SMPP connector must tolerate, each a knob of
`SmscBehaviour` that a test may change while the server runs: latency of submit_sm_resp,
throttling above N submits/s (a sliding second, or Jasmin's strict spacing of 1/N s), an error
ratio with a chosen status, receipt delay, receipts before the response, duplicated and
out-of-order receipts, intermediate ENROUTE/ACCEPTD receipts, ids as decimal, hex or UUID with
the receipt writing another form than the response, receipt text with missing or reordered
fields, the id only in the receipted_message_id TLV or only in the text, receipts for every
part or only the last part of a concatenated message, dropping a connection with submits
unanswered, and refusing binds for a while.

Receipts are stored and forwarded like a real SMSC's: sent on any bound receiver or
transceiver, kept while none is bound, and sent again when a connection closes before the
ESME acknowledged them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import struct
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

import smpplib.consts as c
import smpplib.exceptions
import smpplib.smpp

log = logging.getLogger(__name__)

HEADER = struct.Struct(">LLLL")  # SMPP 3.4 §3.2: length, command_id, command_status, sequence
MAX_PDU_LENGTH = 65_536
ESM_UDHI = 0x40  # SMPP 3.4 §5.2.12
ESM_DELIVERY_RECEIPT = 0x04  # §5.2.12 message type 0001
ESM_INTERMEDIATE = 0x20  # §5.2.12 message type 1000
# §5.2.28 message_state, by the Appendix B stat: word.
MESSAGE_STATE = {
    "ENROUTE": 1,
    "DELIVRD": 2,
    "EXPIRED": 3,
    "DELETED": 4,
    "UNDELIV": 5,
    "ACCEPTD": 6,
    "UNKNOWN": 7,
    "REJECTD": 8,
}
RECEIPT_FIELDS = ("id", "sub", "dlvrd", "submit date", "done date", "stat", "err", "text")

IdForm = Literal["dec", "hex", "HEX", "uuid", "UUID"]


@dataclass
class SmscBehaviour:
    """What the SMSC does; every field may be changed while it runs."""

    system_id: str = "gateway"
    password: str = "secret"
    submit_latency: float = 0.0  # seconds before each submit_sm_resp
    throttle_tps: float = 0.0  # above this many submits/s: ESME_RTHROTTLED (0: never)
    # Jasmin's throttling: each submit must come at least 1/tps after the last one accepted
    # (no burst); otherwise a sliding one-second window admits tps submits.
    throttle_strict: bool = False
    error_ratio: float = 0.0  # share of submits answered with error_status
    error_status: int = c.SMPP_ESME_RSYSERR
    receipt_delay: float = 0.05  # after the submit_sm_resp (before it, see the next knob)
    receipt_interval: float = 0.005  # between the receipts of one message (intermediate, final)
    receipt_before_response: bool = False  # queue the receipts, then answer the submit
    duplicate_receipts: int = 0  # extra copies of each final receipt
    # Final receipts first, intermediate ones after them, each with a random extra delay of
    # up to receipt_delay, so receipts of different messages overtake each other too.
    out_of_order: bool = False
    intermediate_states: tuple[str, ...] = ()  # e.g. ("ACCEPTD", "ENROUTE") before the final
    intermediate_esm_class: int = ESM_DELIVERY_RECEIPT  # or ESM_INTERMEDIATE (§5.2.12)
    final_state: str = "DELIVRD"
    error_code: str = "000"  # the err: of the final receipt
    id_form: IdForm = "dec"  # the message_id of submit_sm_resp
    receipt_id_form: IdForm | None = None  # the id in receipts (None: as id_form)
    receipt_fields: tuple[str, ...] = RECEIPT_FIELDS  # which text fields, in which order
    receipt_id_in: Literal["both", "tlv", "text"] = "both"  # "text": no receipt TLVs at all
    receipts_for: Literal["all", "last"] = "all"  # parts of a concatenated message
    bind_refusal_status: int = c.SMPP_ESME_RBINDFAIL


@dataclass
class SubmitRecord:
    """One submit_sm as smpplib decoded it, and what the SMSC did with it."""

    connection: int
    sequence: int
    service_type: str
    source_addr_ton: int
    source_addr_npi: int
    source_addr: str
    dest_addr_ton: int
    dest_addr_npi: int
    destination_addr: str
    esm_class: int
    registered_delivery: int
    data_coding: int
    short_message: bytes
    message_payload: bytes | None
    sar: tuple[int, int, int] | None  # (sar_msg_ref_num, sar_total_segments, sar_segment_seqnum)
    udh: bytes | None
    concat: tuple[int, int, int] | None  # (reference, total, sequence) from the UDH or SAR
    received_at: float
    status: int | None = None  # command_status answered; None until answered
    message_id: str | None = None  # as written in the submit_sm_resp
    answered: bool = False  # the response was written to the socket before it closed

    @property
    def body(self) -> bytes:
        """The user data after any UDH (or message_payload)."""
        if self.message_payload:
            return self.message_payload
        return self.short_message[len(self.udh) :] if self.udh else self.short_message

    @property
    def is_last_part(self) -> bool:
        return self.concat is None or self.concat[2] == self.concat[1]


@dataclass
class ReceiptRecord:
    """One deliver_sm receipt sent, and the deliver_sm_resp status if one came."""

    receipted_id: str
    state: str
    text: bytes
    tlvs: dict[str, Any]
    esm_class: int
    sent_at: float = 0.0
    ack_status: int | None = None


@dataclass
class _Receipt:
    """A receipt waiting to be sent (or sent again)."""

    record: ReceiptRecord
    source_addr_ton: int
    source_addr_npi: int
    source_addr: str
    dest_addr_ton: int
    dest_addr_npi: int
    destination_addr: str


class _SequenceSource:
    """smpplib draws sequence numbers from a client object; one per connection here, so
    nothing depends on smpplib's module-level default client."""

    def __init__(self) -> None:
        self.sequence = 0

    def next_sequence(self) -> int:
        self.sequence = self.sequence % 0x7FFFFFFF + 1
        return self.sequence


class _ParseOnly:
    """For parsing: smpplib's constructor draws a sequence number, which parsing overwrites."""

    sequence = 0

    def next_sequence(self) -> int:
        return 0


def make_pdu(command: str, client: Any, *, sequence: int, **fields: Any) -> bytes:
    pdu = smpplib.smpp.make_pdu(command, client=client, **fields)
    # smpplib's constructor ignores a `sequence` keyword (its property reads the client's
    # counter), so the number this PDU answers or carries is set on the object.
    pdu.sequence = sequence
    return bytes(pdu.generate())


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def parse_udh(short_message: bytes) -> tuple[bytes, tuple[int, int, int] | None]:
    """(UDH with its length octet, concatenation IE) per 3GPP TS 23.040 §9.2.3.24.1 (8-bit
    reference, IEI 0x00) and §9.2.3.24.8 (16-bit reference, IEI 0x08)."""
    if not short_message:
        return b"", None
    length = short_message[0]
    udh = short_message[: length + 1]
    concat = None
    pos = 1
    while pos + 1 < len(udh):
        iei, ie_length = udh[pos], udh[pos + 1]
        data = udh[pos + 2 : pos + 2 + ie_length]
        if iei == 0x00 and len(data) == 3:
            concat = (data[0], data[1], data[2])
        elif iei == 0x08 and len(data) == 4:
            concat = (int.from_bytes(data[:2], "big"), data[2], data[3])
        pos += 2 + ie_length
    return udh, concat


def format_id(number: int, token: uuid.UUID, form: IdForm) -> str:
    match form:
        case "dec":
            return str(number)
        case "hex":
            return format(number, "x")
        case "HEX":
            return format(number, "X")
        case "uuid":
            return str(token)
        case "UUID":
            return str(token).upper()
    raise ValueError(f"unknown id form {form!r}")


class _Connection:
    def __init__(self, smsc: IndependentSmsc, number: int, writer: asyncio.StreamWriter) -> None:
        self.smsc = smsc
        self.number = number
        self.writer = writer
        self.sequences = _SequenceSource()
        self.bound_as: str | None = None  # "transmitter", "receiver", "transceiver"
        self.open = True
        self.unacked: dict[int, _Receipt] = {}
        self.pending_responses = 0

    @property
    def receives(self) -> bool:
        return self.open and self.bound_as in ("receiver", "transceiver")

    def write(self, data: bytes) -> bool:
        if not self.open or self.writer.is_closing():
            return False
        self.writer.write(data)
        return True

    def respond(self, command: str, sequence: int, status: int = 0, **fields: Any) -> bool:
        return self.write(
            make_pdu(command, self.sequences, sequence=sequence, status=status, **fields)
        )

    def close(self) -> None:
        """Close without answering what is outstanding. The write buffer (responses already
        written) is flushed before the FIN, as a real SMSC's kernel would."""
        if self.open:
            self.open = False
            self.writer.close()


class IndependentSmsc:
    """An SMPP 3.4 SMSC on 127.0.0.1, on a port the OS chooses, for one test."""

    def __init__(self, behaviour: SmscBehaviour | None = None) -> None:
        self.behaviour = behaviour or SmscBehaviour()
        self.submits: list[SubmitRecord] = []
        self.receipts: list[ReceiptRecord] = []
        self.binds: list[tuple[str, str, int]] = []  # (command, system_id, status answered)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._connections: dict[int, _Connection] = {}
        self._numbers = itertools.count(1)
        self._ids = itertools.count(0xA000_0000)  # its hex has a letter: never read as decimal
        self._outbox: deque[_Receipt] = deque()
        self._outbox_ready = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._accepted_at: deque[float] = deque()  # accepted submits in the last second
        self._last_accepted = -1e9
        self._refuse_binds_until = 0.0
        self._drop_after: int | None = None
        self._sender: asyncio.Task[None] | None = None
        self.dropped_connections = 0

    # -- control --------------------------------------------------------------------------

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        self._sender = asyncio.create_task(self._send_receipts(), name="smsc-receipts")

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in list(self._connections.values()):
            conn.close()
        for task in [*self._tasks, *([self._sender] if self._sender else [])]:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._sender is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), timeout=2.0)

    def refuse_binds_for(self, seconds: float) -> None:
        """Answer every bind with `bind_refusal_status` for this long."""
        self._refuse_binds_until = time.monotonic() + seconds

    def drop_connection_after(self, submits: int) -> None:
        """When this many more submit_sm have arrived (on any connection), close the one the
        last came on at once: that submit and any whose response is still delayed go
        unanswered, while the responses already written reach the ESME."""
        self._drop_after = submits

    @property
    def bound_connections(self) -> int:
        return sum(1 for conn in self._connections.values() if conn.bound_as is not None)

    def accepted(self) -> list[SubmitRecord]:
        """Submits answered ESME_ROK on the wire."""
        return [s for s in self.submits if s.answered and s.status == c.SMPP_ESME_ROK]

    # -- one connection -------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Connection(self, next(self._numbers), writer)
        self._connections[conn.number] = conn
        try:
            while conn.open:
                header = await reader.readexactly(HEADER.size)
                length, command_id, _, sequence = HEADER.unpack(header)
                if not HEADER.size <= length <= MAX_PDU_LENGTH:
                    # §3.2: no way to resynchronise on a stream with a bad length.
                    conn.respond("generic_nack", sequence, c.SMPP_ESME_RINVCMDLEN)
                    break
                data = header + await reader.readexactly(length - HEADER.size)
                self._handle(conn, command_id, sequence, data)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            conn.close()
            self._connections.pop(conn.number, None)
            # Receipts not acknowledged on this connection go out again on another.
            for receipt in conn.unacked.values():
                self._outbox.appendleft(receipt)
            conn.unacked.clear()
            self._outbox_ready.set()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _handle(self, conn: _Connection, command_id: int, sequence: int, data: bytes) -> None:
        try:
            pdu = smpplib.smpp.parse_pdu(data, client=_ParseOnly(), allow_unknown_opt_params=True)
        except smpplib.exceptions.UnknownCommandError:
            conn.respond("generic_nack", sequence, c.SMPP_ESME_RINVCMDID)
            return
        except Exception:  # whatever smpplib trips on is the peer's fault: answer, go on
            log.warning("independent SMSC: undecodable PDU 0x%08x", command_id)
            conn.respond("generic_nack", sequence, c.SMPP_ESME_RSYSERR)
            return
        command = pdu.command
        if command in ("bind_transmitter", "bind_receiver", "bind_transceiver"):
            self._bind(conn, command, pdu)
        elif command == "enquire_link":
            conn.respond("enquire_link_resp", sequence)
        elif command == "unbind":
            conn.respond("unbind_resp", sequence)
            conn.close()
        elif command == "deliver_sm_resp":
            receipt = conn.unacked.pop(sequence, None)
            if receipt is not None:
                receipt.record.ack_status = pdu.status
                if pdu.status != c.SMPP_ESME_ROK:
                    # The ESME could not take it now: send again later, as SMSCs do.
                    self._later(0.2, self._enqueue, receipt)
        elif command in ("generic_nack", "enquire_link_resp", "unbind_resp"):
            pass
        elif conn.bound_as is None:
            conn.respond("generic_nack", sequence, c.SMPP_ESME_RINVBNDSTS)
        elif command == "submit_sm":
            self._submit(conn, pdu)
        else:
            conn.respond("generic_nack", sequence, c.SMPP_ESME_RINVCMDID)

    def _bind(self, conn: _Connection, command: str, pdu: Any) -> None:
        b = self.behaviour
        system_id, password = _text(pdu.system_id), _text(pdu.password)
        if time.monotonic() < self._refuse_binds_until:
            status = b.bind_refusal_status
        elif conn.bound_as is not None:
            status = c.SMPP_ESME_RALYBND
        elif (system_id, password) != (b.system_id, b.password):
            status = c.SMPP_ESME_RINVPASWD
        else:
            status = c.SMPP_ESME_ROK
        self.binds.append((command, system_id, status))
        conn.respond(f"{command}_resp", pdu.sequence, status, system_id="independent")
        if status == c.SMPP_ESME_ROK:
            conn.bound_as = command.removeprefix("bind_")
            self._outbox_ready.set()
        else:
            # §4.1: after a failed bind the SMSC may close; most do, and the ESME reconnects.
            conn.close()

    def _submit(self, conn: _Connection, pdu: Any) -> None:
        b = self.behaviour
        short_message = pdu.short_message or b""
        udh, concat = parse_udh(short_message) if (pdu.esm_class or 0) & ESM_UDHI else (b"", None)
        sar = None
        if pdu.sar_msg_ref_num is not None:
            sar = (pdu.sar_msg_ref_num, pdu.sar_total_segments, pdu.sar_segment_seqnum)
            concat = concat or sar
        record = SubmitRecord(
            connection=conn.number,
            sequence=pdu.sequence,
            service_type=_text(pdu.service_type),
            source_addr_ton=pdu.source_addr_ton or 0,
            source_addr_npi=pdu.source_addr_npi or 0,
            source_addr=_text(pdu.source_addr),
            dest_addr_ton=pdu.dest_addr_ton or 0,
            dest_addr_npi=pdu.dest_addr_npi or 0,
            destination_addr=_text(pdu.destination_addr),
            esm_class=pdu.esm_class or 0,
            registered_delivery=pdu.registered_delivery or 0,
            data_coding=pdu.data_coding or 0,
            short_message=short_message,
            message_payload=pdu.message_payload,
            sar=sar,
            udh=udh or None,
            concat=concat,
            received_at=time.monotonic(),
        )
        self.submits.append(record)
        if self._drop_after is not None:
            self._drop_after -= 1
            if self._drop_after <= 0:
                self._drop_after = None
                self.dropped_connections += 1
                conn.close()
                return
        if not record.destination_addr:
            # smpplib stops parsing where the body ends, leaving later fields None: a submit cut
            # short reads as one without a destination, which an SMSC refuses (§5.1.3).
            self._answer(conn, record, c.SMPP_ESME_RINVDSTADR, None)
            return
        status = self._admit()
        if status == c.SMPP_ESME_ROK and b.error_ratio and random.random() < b.error_ratio:
            status = b.error_status
        if status != c.SMPP_ESME_ROK:
            # Refusals are answered at once: there is nothing to wait for.
            self._answer(conn, record, status, None)
            return
        number, token = next(self._ids), uuid.uuid4()
        message_id = format_id(number, token, b.id_form)
        receipt_id = format_id(number, token, b.receipt_id_form or b.id_form)
        wants_receipt = record.registered_delivery & 0x03 != 0
        if wants_receipt and (b.receipts_for == "all" or record.is_last_part):
            before = b.receipt_before_response
            self._schedule_receipts(record, receipt_id, 0.0 if before else b.submit_latency)
        conn.pending_responses += 1
        self._later(b.submit_latency, self._answer, conn, record, c.SMPP_ESME_ROK, message_id)

    def _admit(self) -> int:
        b = self.behaviour
        if not b.throttle_tps:
            return c.SMPP_ESME_ROK
        now = time.monotonic()
        if b.throttle_strict:
            if now - self._last_accepted < 1.0 / b.throttle_tps:
                return c.SMPP_ESME_RTHROTTLED
        else:
            while self._accepted_at and now - self._accepted_at[0] >= 1.0:
                self._accepted_at.popleft()
            if len(self._accepted_at) >= b.throttle_tps:
                return c.SMPP_ESME_RTHROTTLED
            self._accepted_at.append(now)
        self._last_accepted = now
        return c.SMPP_ESME_ROK

    def _answer(
        self, conn: _Connection, record: SubmitRecord, status: int, message_id: str | None
    ) -> None:
        if message_id is not None:
            conn.pending_responses -= 1
        record.status = status
        record.message_id = message_id
        record.answered = conn.respond(
            "submit_sm_resp", record.sequence, status, message_id=message_id or ""
        )

    # -- receipts -------------------------------------------------------------------------

    def _schedule_receipts(self, record: SubmitRecord, receipted_id: str, after: float) -> None:
        b = self.behaviour
        finals = [b.final_state] * (1 + b.duplicate_receipts)
        states = (
            [*finals, *b.intermediate_states]
            if b.out_of_order
            else [*b.intermediate_states, *finals]
        )
        delay = after + b.receipt_delay
        for i, state in enumerate(states):
            jitter = random.uniform(0, b.receipt_delay) if b.out_of_order else 0.0
            receipt = self._receipt(record, receipted_id, state)
            self._later(delay + i * b.receipt_interval + jitter, self._enqueue, receipt)

    def _receipt(self, record: SubmitRecord, receipted_id: str, state: str) -> _Receipt:
        b = self.behaviour
        final = state not in ("ENROUTE", "ACCEPTD")
        now = time.strftime("%y%m%d%H%M")
        values = {
            "id": receipted_id,
            "sub": "001",
            "dlvrd": "001" if state == "DELIVRD" else "000",
            "submit date": now,
            "done date": now,
            "stat": state,
            "err": b.error_code if final else "000",
            "text": "".join(
                ch if " " <= ch <= "~" else "." for ch in record.body[:20].decode("latin-1")
            ),
        }
        text = " ".join(f"{name}:{values[name]}" for name in b.receipt_fields if name in values)
        tlvs: dict[str, Any] = {}
        if b.receipt_id_in != "text":
            tlvs["message_state"] = MESSAGE_STATE[state]
            if b.receipt_id_in in ("both", "tlv"):
                tlvs["receipted_message_id"] = receipted_id
        esm_class = ESM_DELIVERY_RECEIPT if final else b.intermediate_esm_class
        return _Receipt(
            record=ReceiptRecord(receipted_id, state, text.encode("ascii"), tlvs, esm_class),
            # A receipt travels back: from the handset to the ESME's address.
            source_addr_ton=record.dest_addr_ton,
            source_addr_npi=record.dest_addr_npi,
            source_addr=record.destination_addr,
            dest_addr_ton=record.source_addr_ton,
            dest_addr_npi=record.source_addr_npi,
            destination_addr=record.source_addr,
        )

    def _enqueue(self, receipt: _Receipt) -> None:
        self._outbox.append(receipt)
        self._outbox_ready.set()

    async def _send_receipts(self) -> None:
        """Store and forward: each receipt to a bound receiver, round robin; kept while none."""
        turn = 0
        while True:
            await self._outbox_ready.wait()
            self._outbox_ready.clear()
            while self._outbox:
                receivers = [conn for conn in self._connections.values() if conn.receives]
                if not receivers:
                    break
                conn = receivers[turn % len(receivers)]
                turn += 1
                receipt = self._outbox.popleft()
                record = receipt.record
                sequence = conn.sequences.next_sequence()
                data = make_pdu(
                    "deliver_sm",
                    conn.sequences,
                    sequence=sequence,
                    source_addr_ton=receipt.source_addr_ton,
                    source_addr_npi=receipt.source_addr_npi,
                    source_addr=receipt.source_addr,
                    dest_addr_ton=receipt.dest_addr_ton,
                    dest_addr_npi=receipt.dest_addr_npi,
                    destination_addr=receipt.destination_addr,
                    esm_class=record.esm_class,
                    short_message=record.text,
                    **record.tlvs,
                )
                conn.unacked[sequence] = receipt
                if conn.write(data):
                    if not record.sent_at:
                        self.receipts.append(record)  # once, however often it is sent again
                    record.sent_at = time.monotonic()
                else:
                    conn.unacked.pop(sequence, None)
                    self._outbox.appendleft(receipt)
                    await asyncio.sleep(0.01)
            await asyncio.sleep(0)

    # -- timers ---------------------------------------------------------------------------

    def _later(self, delay: float, callback: Any, *args: Any) -> None:
        async def run() -> None:
            if delay > 0:
                await asyncio.sleep(delay)
            callback(*args)

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
