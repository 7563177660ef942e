"""aiosmpplib's ESME, driven through its public extension points, as a peer for interop tests.

aiosmpplib tells an application what happens only through its hook (each PDU in and out, with
the message it parsed) and runs its own connect-bind-read loop in `ESME.start()`, reconnecting
forever. One ESME binds in one mode. For a test that must see every PDU and fail rather than
retry, this module adds:

- `PduLog`, a hook that keeps every PDU as sent and received and can decode the received ones
  again with aiosmpplib's own classes. Decoding again matters for split messages: until
  every segment is answered, aiosmpplib's correlator hands the hook None instead of each
  submit_sm_resp or receipt, and then it passes the first segment's (see
  `ESME._handle_response`, `_handle_request`), so the messages passed alone hide what the SMSC
  sent;
- `NoReconnect`, a retry timer that turns aiosmpplib's silent reconnect into an error;
- `running_esme`, which starts an ESME in one bind mode, waits (bounded) for its bind response,
  and stops it (unbind, then the end of its loop), bounded too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiosmpplib import (
    ESME,
    AbstractCorrelator,
    AbstractHook,
    AbstractRetryTimer,
    AbstractSequenceGenerator,
    BindMode,
    DeliverSm,
    SmppCommand,
    SmppCommandStatus,
    SmppMessage,
    SubmitSm,
    SubmitSmResp,
)
from aiosmpplib.state import RECEIPTED_MESSAGE_ID

from tests.conftest import DEMO_SMPP_PASSWORD

# aiosmpplib's ESME reads data_coding 0 as this alphabet (unpacked septets, its default), as
# our server does.
DEFAULT_ENCODING = "gsm0338"
HEADER_LENGTH = 16  # SMPP 3.4 §3.2: command_length, command_id, command_status, sequence_number

_BIND_RESPONSE = {
    BindMode.TRANSMITTER: SmppCommand.BIND_TRANSMITTER_RESP,
    BindMode.RECEIVER: SmppCommand.BIND_RECEIVER_RESP,
    BindMode.TRANSCEIVER: SmppCommand.BIND_TRANSCEIVER_RESP,
}


@dataclass(frozen=True)
class Received:
    """One PDU from the SMSC, and what aiosmpplib's ESME passed to its hook for it."""

    pdu: bytes
    passed: SmppMessage | None

    @property
    def command(self) -> SmppCommand:
        return SmppMessage.parse_header(self.pdu[:HEADER_LENGTH]).smpp_command

    @property
    def command_status(self) -> SmppCommandStatus:
        return SmppMessage.parse_header(self.pdu[:HEADER_LENGTH]).command_status

    def decode(self) -> SmppMessage:
        """The PDU decoded again with aiosmpplib's class for its command."""
        header = SmppMessage.parse_header(self.pdu[:HEADER_LENGTH])
        classes: dict[SmppCommand, type[SmppMessage]] = {
            SmppCommand.SUBMIT_SM_RESP: SubmitSmResp,
            SmppCommand.DELIVER_SM: DeliverSm,
        }
        return classes[header.smpp_command].from_pdu(self.pdu, header, DEFAULT_ENCODING)


async def eventually(condition: Callable[[], bool], timeout: float) -> bool:
    """Poll `condition` until it holds or `timeout` seconds pass; say whether it held."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() >= deadline:
            return False
        await asyncio.sleep(0.01)
    return True


class PduLog(AbstractHook):
    """A hook recording every PDU aiosmpplib's ESME sends or receives."""

    def __init__(self) -> None:
        self.outbound: list[bytes] = []
        self.inbound: list[Received] = []
        self.send_errors: list[tuple[SmppMessage, Exception]] = []

    async def sending(self, smpp_message: SmppMessage, pdu: bytes, client_id: str) -> None:
        self.outbound.append(pdu)

    async def received(self, smpp_message: SmppMessage | None, pdu: bytes, client_id: str) -> None:
        self.inbound.append(Received(pdu, smpp_message))

    async def send_error(self, smpp_message: SmppMessage, error: Exception, client_id: str) -> None:
        self.send_errors.append((smpp_message, error))

    # -- what was exchanged -----------------------------------------------------------------

    def sent_submits(self) -> list[tuple[SubmitSm, bytes]]:
        """The submit_sm PDUs as they went out, decoded again by aiosmpplib."""
        out = []
        for pdu in self.outbound:
            header = SmppMessage.parse_header(pdu[:HEADER_LENGTH])
            if header.smpp_command == SmppCommand.SUBMIT_SM:
                message = SubmitSm.from_pdu(pdu, header, DEFAULT_ENCODING)
                assert isinstance(message, SubmitSm)
                out.append((message, pdu))
        return out

    def answers(self) -> list[tuple[SubmitSm, SubmitSmResp | None]]:
        """Each submit_sm sent, in order, with its submit_sm_resp (matched by sequence number:
        our server answers each after its own commit, so not necessarily in order)."""
        responses = {r.sequence_num: r for r in self.submit_responses()}
        return [(m, responses.get(m.sequence_num)) for m, _ in self.sent_submits()]

    def sent_count(self, command: SmppCommand) -> int:
        return sum(
            SmppMessage.parse_header(pdu[:HEADER_LENGTH]).smpp_command == command
            for pdu in self.outbound
        )

    def of(self, command: SmppCommand) -> list[Received]:
        return [r for r in self.inbound if r.command == command]

    def submit_responses(self) -> list[SubmitSmResp]:
        return [
            m
            for r in self.of(SmppCommand.SUBMIT_SM_RESP)
            if isinstance(m := r.decode(), SubmitSmResp)
        ]

    def receipts(self) -> list[DeliverSm]:
        return [
            m
            for r in self.of(SmppCommand.DELIVER_SM)
            if isinstance(m := r.decode(), DeliverSm) and m.is_receipt()
        ]

    def receipted_ids(self) -> set[str]:
        return {receipted_message_id(r) or "" for r in self.receipts()}

    def passed_receipts(self) -> list[DeliverSm]:
        """The receipts aiosmpplib itself handed on, after its own correlation."""
        return [r.passed for r in self.inbound if isinstance(r.passed, DeliverSm)]


def receipted_message_id(receipt: DeliverSm) -> str | None:
    """The receipted_message_id TLV (SMPP 3.4 §5.3.2.12), as aiosmpplib decoded it."""
    return next(
        (str(p.value) for p in receipt.optional_params or () if p.tag == RECEIPTED_MESSAGE_ID),
        None,
    )


class ConnectionLostError(Exception):
    """aiosmpplib's ESME lost its bind and was about to reconnect."""


class NoReconnect(AbstractRetryTimer):
    """aiosmpplib waits on its retry timer before each reconnect: refuse instead, which ends
    `ESME.start()` with this error, so a test sees the lost bind."""

    async def wait(self) -> None:
        raise ConnectionLostError("aiosmpplib's ESME lost its bind and would reconnect")

    def reset(self) -> None:
        pass

    def next_delay(self) -> float:
        return 0.0


class LogRecords(logging.Handler):
    """aiosmpplib's own log, where it says what it could not parse or correlate."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def at_least(self, level: int) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno >= level]


@dataclass
class RunningEsme:
    esme: ESME
    log: PduLog
    aiosmpplib_log: LogRecords
    task: asyncio.Task[None]

    async def submit(self, *messages: SubmitSm) -> None:
        """Hand messages to aiosmpplib's broker, as an application does; its loop sends them."""
        for message in messages:
            await self.esme.broker.enqueue(message)

    def check_alive(self) -> None:
        """Raise what ended aiosmpplib's loop, if it ended."""
        if self.task.done():
            self.task.result()
            raise ConnectionLostError("aiosmpplib's ESME loop ended")


@asynccontextmanager
async def running_esme(
    port: int,
    bind_mode: BindMode,
    *,
    correlator: AbstractCorrelator | None = None,
    sequence_generator: AbstractSequenceGenerator | None = None,
    timeout: float = 5.0,
) -> AsyncIterator[RunningEsme]:
    """An aiosmpplib ESME bound to 127.0.0.1:`port` as "demo" in `bind_mode`."""
    log = PduLog()
    records = LogRecords()
    esme = ESME(
        smsc_host="127.0.0.1",
        smsc_port=port,
        system_id="demo",
        password=DEMO_SMPP_PASSWORD,
        bind_mode=bind_mode,
        hook=log,
        correlator=correlator,
        sequence_generator=sequence_generator,
        retry_timer=NoReconnect(),
        socket_timeout=timeout,
        log_handler=records,
        log_level=logging.INFO,
    )
    task = asyncio.create_task(esme.start(), name=f"aiosmpplib {bind_mode.name.lower()}")
    running = RunningEsme(esme, log, records, task)
    try:
        answered = await eventually(
            lambda: bool(log.of(_BIND_RESPONSE[bind_mode])) or task.done(), timeout
        )
        running.check_alive()
        if not answered:
            raise TimeoutError(f"no answer to bind as {bind_mode.name} in {timeout} s")
        answer = log.of(_BIND_RESPONSE[bind_mode])[0]
        if answer.command_status != SmppCommandStatus.ESME_ROK:
            raise AssertionError(
                f"bind as {bind_mode.name} refused: {answer.command_status.name}, "
                f"bind_resp {answer.pdu.hex()}"
            )
        yield running
        running.check_alive()
    finally:
        if task.done():
            # The loop died (its error is raised above); aiosmpplib's stop() would wait for
            # the loop's end forever, so give it only the time to send its unbind.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(esme.stop(), 0.5)
        else:
            try:
                await asyncio.wait_for(esme.stop(), timeout)
                await asyncio.wait_for(task, timeout)
            finally:
                task.cancel()
