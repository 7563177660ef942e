"""An SMPP load generator: ESME binds that keep their window full of submit_sm and take the
delivery receipts that come back, on the same sans-IO `Session` and thin transport as the
gateway's own connector and simulator.

Callback-driven: every submit_sm_resp frees a window slot and sends the next submit_sm at once,
so a bind holds `window` submits in flight without a task per message. The whole load is bounded
by a submit count and a deadline; waits for binds, responses, receipts and unbinds each have a
timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from gateway.smpp.codes import CommandStatus
from gateway.smpp.pdu import (
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
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
)
from gateway.smpp.receipt import ReceiptParseError, is_delivery_receipt, parse_receipt
from gateway.smpp.session import (
    EnquireLinkDue,
    Event,
    LinkTimedOut,
    RequestReceived,
    ResponseReceived,
    ResponseTimedOut,
    Role,
    SessionConfig,
)
from gateway.smpp.tlv import Tlv
from gateway.smpp_io import SessionProtocol

BindMode = Literal["transceiver", "transmitter", "receiver"]
_BINDS = {"transceiver": BindTransceiver, "transmitter": BindTransmitter, "receiver": BindReceiver}


class BindFailedError(Exception):
    """The target refused or never answered a bind."""


@dataclass
class SmppLoadResult:
    submitted: int = 0
    responses: Counter[int] = field(default_factory=Counter)  # command_status -> count
    timeouts: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds, submit_sm -> its response
    message_ids: set[str] = field(default_factory=set)
    receipt_ids: set[str] = field(default_factory=set)
    receipts: int = 0
    other_deliver_sm: int = 0
    first_submit: float = 0.0  # perf_counter (uvloop's loop.time() has 1 ms resolution)
    last_response: float = 0.0
    last_receipt: float = 0.0
    generator_cpu: float = 0.0
    wall: float = 0.0

    @property
    def ok(self) -> int:
        return self.responses[CommandStatus.ESME_ROK]

    @property
    def answered(self) -> int:
        return sum(self.responses.values())

    @property
    def matched_receipts(self) -> int:
        return len(self.receipt_ids & self.message_ids)

    @property
    def submit_rate(self) -> float:
        return self.ok / max(self.last_response - self.first_submit, 1e-9)

    @property
    def receipt_rate(self) -> float:
        return self.matched_receipts / max(self.last_receipt - self.first_submit, 1e-9)


@dataclass
class _Budget:
    remaining: int
    deadline: float = float("inf")
    rate: float = 0.0  # submits/s over all binds once started; 0: as fast as windows allow
    start: float = 0.0
    issued: int = 0

    def take(self, now: float) -> bool:
        if self.remaining <= 0 or now >= self.deadline:
            return False
        if self.rate and self.issued >= (now - self.start) * self.rate + 1:
            return False
        self.remaining -= 1
        self.issued += 1
        return True

    def exhausted(self, now: float) -> bool:
        return self.remaining <= 0 or now >= self.deadline


class _Esme(SessionProtocol):
    def __init__(
        self,
        mode: BindMode,
        system_id: str,
        password: str,
        window: int,
        budget: _Budget,
        result: SmppLoadResult,
        template: SubmitSm,
    ) -> None:
        super().__init__(Role.ESME, SessionConfig(window=window, response_timeout=10.0))
        self.mode = mode
        self.system_id = system_id
        self.password = password
        self.budget = budget
        self.result = result
        self.template = template
        self.bound = self._loop.create_future()
        self.sending = False
        self._sent_at: dict[int, float] = {}

    @property
    def can_submit(self) -> bool:
        return self.mode != "receiver"

    def on_connected(self) -> None:
        self.send(_BINDS[self.mode](system_id=self.system_id, password=self.password))

    def on_closed(self, exc: Exception | None) -> None:
        if not self.bound.done():
            self.bound.set_exception(BindFailedError(f"connection closed before bind: {exc}"))

    def resume_writing(self) -> None:
        super().resume_writing()
        self.pump()

    def pump(self) -> None:
        """Fill the window with submit_sm while the budget lasts and the socket takes data."""
        if not (self.sending and self.is_open and self._writable.is_set()):
            return
        session = self.session
        now = time.perf_counter()
        while session.window_available > 0 and self.budget.take(now):
            sequence = session.next_sequence_number()
            self.send(_with_sequence(self.template, sequence))
            self._sent_at[sequence] = now
            self.result.submitted += 1
            if not self._writable.is_set():
                break

    def handle_event(self, event: Event) -> None:
        result = self.result
        match event:
            case ResponseReceived(pdu=SubmitSmResp() | GenericNack() as pdu):
                now = time.perf_counter()
                sent = self._sent_at.pop(pdu.sequence_number, None)
                if sent is not None:
                    result.latencies.append(now - sent)
                result.responses[pdu.command_status] += 1
                result.last_response = now
                if isinstance(pdu, SubmitSmResp) and pdu.command_status == 0:
                    result.message_ids.add(pdu.message_id)
                self.pump()
            case ResponseReceived(
                pdu=BindTransceiverResp() | BindTransmitterResp() | BindReceiverResp() as pdu
            ):
                if not self.bound.done():
                    self.bound.set_result(pdu.command_status)
            case ResponseTimedOut(request=request):
                if self._sent_at.pop(request.sequence_number, None) is not None:
                    result.timeouts += 1
                self.pump()
            case RequestReceived(pdu=DeliverSm() as pdu):
                self.send(DeliverSmResp(sequence_number=pdu.sequence_number))
                self._count_deliver(pdu)
            case RequestReceived(pdu=EnquireLink() as pdu):
                self.send(EnquireLinkResp(sequence_number=pdu.sequence_number))
            case RequestReceived(pdu=Unbind() as pdu):
                self.send(UnbindResp(sequence_number=pdu.sequence_number))
                self.close()
            case EnquireLinkDue():
                self.send(EnquireLink())
            case LinkTimedOut():
                self.close()
            case _:
                pass

    def _count_deliver(self, pdu: DeliverSm) -> None:
        result = self.result
        if not is_delivery_receipt(pdu.esm_class):
            result.other_deliver_sm += 1
            return
        result.receipts += 1
        result.last_receipt = time.perf_counter()
        # The TLV when the SMSC sends it (our simulator and server do): parsing the Appendix B
        # text costs the generator ~30 µs a receipt, as much as the rest of its work together.
        message_id = pdu.tlvs.get(Tlv.RECEIPTED_MESSAGE_ID)
        if isinstance(message_id, str):
            result.receipt_ids.add(message_id)
            return
        with contextlib.suppress(ReceiptParseError):
            result.receipt_ids.add(parse_receipt(pdu).message_id)

    async def unbind(self, timeout: float) -> None:
        if self.is_open and self.session.bound:
            with contextlib.suppress(Exception):
                self.send(Unbind())
                await asyncio.wait_for(asyncio.shield(self.closed), timeout=timeout)
        self.close()


def _with_sequence(template: SubmitSm, sequence: int) -> SubmitSm:
    # A fresh frozen PDU per submit, as an ESME builds one per message.
    return SubmitSm(
        sequence_number=sequence,
        source_addr_ton=template.source_addr_ton,
        source_addr_npi=template.source_addr_npi,
        source_addr=template.source_addr,
        dest_addr_ton=template.dest_addr_ton,
        dest_addr_npi=template.dest_addr_npi,
        destination_addr=template.destination_addr,
        registered_delivery=template.registered_delivery,
        data_coding=template.data_coding,
        short_message=template.short_message,
    )


DEFAULT_SUBMIT = SubmitSm(
    source_addr_ton=5,  # alphanumeric
    source_addr="Acme",
    dest_addr_ton=1,  # international
    dest_addr_npi=1,  # E.164
    destination_addr="4915112345678",
    registered_delivery=1,  # SMSC delivery receipt on success or failure
    short_message=b"Your verification code is 482913",
)


async def run_load(
    host: str,
    port: int,
    *,
    system_id: str,
    password: str,
    binds: int,
    window: int,
    mode: Literal["transceiver", "transmitter"],
    count: int,
    duration: float,
    receipt_timeout: float,
    template: SubmitSm = DEFAULT_SUBMIT,
    rate: float = 0.0,
) -> SmppLoadResult:
    """Bind `binds` times (plus one receiver for `transmitter` binds, so receipts come back),
    submit up to `count` submit_sm for up to `duration` seconds (at `rate` per second when
    given, else as fast as the windows allow), wait up to `receipt_timeout` for a receipt per
    accepted submit, unbind."""
    loop = asyncio.get_running_loop()
    result = SmppLoadResult()
    budget = _Budget(count)
    modes: list[BindMode] = [mode] * binds + (["receiver"] if mode == "transmitter" else [])
    connections: list[_Esme] = []
    ticker: asyncio.Task[None] | None = None
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    try:
        for bind_mode in modes:
            _, protocol = await asyncio.wait_for(
                loop.create_connection(
                    lambda m=bind_mode: _Esme(  # type: ignore[misc]
                        m, system_id, password, window, budget, result, template
                    ),
                    host,
                    port,
                ),
                timeout=5,
            )
            connections.append(protocol)
        for conn in connections:
            try:
                status = await asyncio.wait_for(asyncio.shield(conn.bound), timeout=5)
            except TimeoutError:
                raise BindFailedError(f"no bind response from {host}:{port} in 5 s") from None
            if status != 0:
                raise BindFailedError(
                    f"bind as {conn.mode} {system_id!r} refused: {CommandStatus(status).name}"
                )
        submitters = [c for c in connections if c.can_submit]
        budget.deadline = time.perf_counter() + duration
        result.first_submit = time.perf_counter()
        for conn in submitters:
            conn.sending = True
            conn.pump()
        if rate:
            budget.rate = rate
            budget.start = time.perf_counter()

            async def tick() -> None:
                # Paced: responses alone would not wake the binds when the rate is the limit.
                while True:
                    await asyncio.sleep(min(0.01, 1 / rate))
                    for conn in submitters:
                        conn.pump()

            ticker = asyncio.create_task(tick())
        # Until the budget is spent and every window empty (each response or timeout pumps).
        await _poll_until(
            lambda: (
                budget.exhausted(time.perf_counter())
                and all(c.session.outstanding == 0 or not c.is_open for c in submitters)
            ),
            timeout=duration + 15,
        )
        for conn in submitters:
            conn.sending = False
        await _poll_until(
            lambda: result.matched_receipts >= result.ok or not any(c.is_open for c in connections),
            timeout=receipt_timeout,
        )
    finally:
        if ticker is not None:
            ticker.cancel()
        await asyncio.gather(*(c.unbind(timeout=2) for c in connections), return_exceptions=True)
        result.generator_cpu = time.process_time() - cpu0
        result.wall = time.perf_counter() - wall0
    return result


async def _poll_until(done: Callable[[], bool], *, timeout: float) -> bool:
    """Wait until `done()` or `timeout` seconds; polled every 10 ms because the condition spans
    several connections and a deadline, and no one event marks it."""
    deadline = time.perf_counter() + timeout
    while not done():
        if time.perf_counter() >= deadline:
            return False
        await asyncio.sleep(0.01)
    return True
