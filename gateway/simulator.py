"""A built-in SMSC simulator: the upstream for `make run`, the tests and the benchmarks.

It is an SMPP 3.4 server (the SMSC side of `gateway.smpp`) that accepts binds with one set of
credentials, answers submit_sm with a fresh message id, and, when the submit asked for one,
sends a delivery receipt after `receipt_delay` seconds on a receiver or transceiver bind of the
same system_id. Knobs make it misbehave the way carriers do: latency, a share of undelivered
receipts, a share of rejected submits, throttling above a rate, receipts before the response.

Run alone with `python -m gateway simulate`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import itertools
import logging
import random
import ssl
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

from gateway.gc_tuning import tune_for_service
from gateway.ratelimit import Gcra
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
    Pdu,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
)
from gateway.smpp.receipt import MessageState, Receipt, build_receipt_pdu
from gateway.smpp.session import (
    EnquireLinkDue,
    Event,
    LinkTimedOut,
    RequestReceived,
    ResponseReceived,
    Role,
    SessionConfig,
)
from gateway.smpp_io import SessionProtocol
from gateway.text import (
    ESM_CLASS_UDHI,
    decode_short_message,
    encode_text,
    render_short_message,
)

log = logging.getLogger(__name__)

_BIND_RESPONSES: dict[type[Pdu], type[Pdu]] = {
    BindTransmitter: BindTransmitterResp,
    BindReceiver: BindReceiverResp,
    BindTransceiver: BindTransceiverResp,
}


@dataclass
class SimulatorConfig:
    host: str = "127.0.0.1"
    port: int = 2776
    system_id: str = "gateway"
    password: str = "secret"  # noqa: S105 - the development simulator's default
    receipt_delay: float = 0.05
    delivered_ratio: float = 1.0
    submit_latency: float = 0.0
    reject_ratio: float = 0.0
    reject_status: int = CommandStatus.ESME_RSUBMITFAIL  # permanent; ESME_RSYSERR is temporary
    throttle_tps: float = 0.0  # above this rate, answer ESME_RTHROTTLED (0: never)
    receipt_before_response: bool = False
    window: int = 1000
    tls: ssl.SSLContext | None = None  # speak SMPP over TLS (a carrier's secure port)


@dataclass
class SimulatorStats:
    binds: int = 0
    submits: int = 0
    rejected: int = 0
    throttled: int = 0
    receipts_sent: int = 0
    receipts_acked: int = 0
    # The last binds and submits received, for tests that check what a gateway put on the wire.
    recent_binds: deque[BindTransmitter | BindReceiver | BindTransceiver] = field(
        default_factory=lambda: deque(maxlen=100)
    )
    recent_submits: deque[SubmitSm] = field(default_factory=lambda: deque(maxlen=1000))


class Simulator:
    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.stats = SimulatorStats()
        self.port = config.port
        self._server: asyncio.Server | None = None
        self._connections: set[_SmscConnection] = set()
        self._ids = itertools.count(random.randrange(1 << 32) << 16)
        self._limit = Gcra(config.throttle_tps) if config.throttle_tps > 0 else None
        self._receipts: deque[tuple[str, DeliverSm, _SmscConnection | None]] = deque(maxlen=100_000)
        self._retry: asyncio.TimerHandle | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _SmscConnection(self), self.config.host, self.config.port, ssl=self.config.tls
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("SMSC simulator listening on %s:%d", self.config.host, self.port)

    async def stop(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
        if self._server is not None:
            self._server.close()
        for conn in list(self._connections):
            conn.close()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def next_message_id(self) -> str:
        # Hex ids, as many SMSCs use: the connector must not assume decimal.
        return f"{next(self._ids):x}"

    def receiver_for(self, system_id: str, preferred: _SmscConnection) -> _SmscConnection | None:
        if preferred.can_receive and preferred.is_open:
            return preferred
        for conn in self._connections:
            if conn.system_id == system_id and conn.can_receive and conn.is_open:
                return conn
        return None

    def send_mo(self, *, source: str, destination: str, text: str, system_id: str = "") -> int:
        """Send a mobile-originated message to a bound receiver, split with 8-bit UDH parts as
        a handset's network would; returns the number of parts sent."""
        target = next(
            (
                c
                for c in self._connections
                if c.can_receive and c.is_open and (not system_id or c.system_id == system_id)
            ),
            None,
        )
        if target is None:
            raise RuntimeError("no receiver bound to the simulator")
        encoded = encode_text(text)
        reference = random.randrange(256)
        for index in range(len(encoded.segments)):
            part = render_short_message(encoded, index, reference=reference, packed=False)
            target.send(
                DeliverSm(
                    source_addr_ton=1,
                    source_addr_npi=1,
                    source_addr=source.removeprefix("+"),
                    dest_addr_ton=1 if destination.startswith("+") else 0,
                    dest_addr_npi=1,
                    destination_addr=destination.removeprefix("+"),
                    esm_class=part.esm_class_flags,
                    data_coding=part.data_coding,
                    short_message=part.short_message,
                )
            )
        return len(encoded.segments)

    def queue_receipt(
        self, system_id: str, pdu: DeliverSm, *, preferred: _SmscConnection | None = None
    ) -> None:
        """Keep a receipt until a receiver of `system_id` acknowledges it (store-and-forward,
        as an SMSC does: a gateway that restarts gets the receipts it missed)."""
        if len(self._receipts) >= self._receipts.maxlen:  # type: ignore[operator]
            log.warning("simulator receipt queue full; the oldest receipt is dropped")
        self._receipts.append((system_id, pdu, preferred))
        self.flush()

    def _receiver_free(self) -> bool:
        return any(
            c.can_receive and c.is_open and c.session.bound and c.session.window_available > 0
            for c in self._connections
        )

    def flush(self) -> None:
        """Send queued receipts to bound receivers as far as their windows allow. Called for
        every receipt queued and every one answered, so it must not walk a long queue when no
        receiver can take more (that made a backlog of receipts cost O(n^2))."""
        if not self._receipts or not self._receiver_free():
            self._retry_later()
            return
        kept: deque[tuple[str, DeliverSm, _SmscConnection | None]] = deque(
            maxlen=self._receipts.maxlen
        )
        while self._receipts and self._receiver_free():
            system_id, pdu, preferred = self._receipts.popleft()
            target = self.receiver_for(system_id, preferred) if preferred else None
            if target is None or target.session.window_available <= 0:
                target = next(
                    (
                        c
                        for c in self._connections
                        if c.system_id == system_id
                        and c.can_receive
                        and c.is_open
                        and c.session.bound
                        and c.session.window_available > 0
                    ),
                    None,
                )
            if target is None:
                kept.append((system_id, pdu, None))
                continue
            sent = target.send(pdu)
            assert isinstance(sent, DeliverSm)
            target.unanswered[sent.sequence_number] = sent
            self.stats.receipts_sent += 1
        kept.extend(self._receipts)  # what no receiver could take stays queued, in order
        self._receipts = kept
        self._retry_later()

    def _retry_later(self) -> None:
        if self._receipts and self._retry is None:
            self._retry = asyncio.get_running_loop().call_later(0.05, self._flush_later)

    def _flush_later(self) -> None:
        self._retry = None
        self.flush()

    def admit(self) -> bool:
        return self._limit is None or self._limit.try_take() == 0


class _SmscConnection(SessionProtocol):
    def __init__(self, simulator: Simulator) -> None:
        super().__init__(
            Role.SMSC, SessionConfig(window=simulator.config.window, enquire_link_interval=30)
        )
        self.sim = simulator
        self.system_id = ""
        self.can_receive = False
        self.unanswered: dict[int, DeliverSm] = {}  # our deliver_sm awaiting their response

    def on_connected(self) -> None:
        self.sim._connections.add(self)

    def on_closed(self, exc: Exception | None) -> None:
        self.sim._connections.discard(self)
        # Receipts this bind never acknowledged go back to the queue for the next receiver.
        for pdu in self.unanswered.values():
            self.sim.queue_receipt(self.system_id, dataclasses.replace(pdu, sequence_number=0))
        self.unanswered.clear()

    def handle_event(self, event: Event) -> None:
        match event:
            case RequestReceived(pdu=SubmitSm() as pdu):
                self._on_submit(pdu)
            case RequestReceived(pdu=BindTransmitter() | BindReceiver() | BindTransceiver() as pdu):
                self._on_bind(pdu)
            case RequestReceived(pdu=EnquireLink() as pdu):
                self.send(EnquireLinkResp(sequence_number=pdu.sequence_number))
            case RequestReceived(pdu=Unbind() as pdu):
                self.send(UnbindResp(sequence_number=pdu.sequence_number))
                self.close()
            case EnquireLinkDue():
                self.send(EnquireLink())
            case LinkTimedOut():
                self.close()
            case ResponseReceived(pdu=DeliverSmResp() | GenericNack() as pdu):
                self.unanswered.pop(pdu.sequence_number, None)
                self.sim.flush()
            case _:
                pass

    def _on_bind(self, pdu: BindTransmitter | BindReceiver | BindTransceiver) -> None:
        cfg = self.sim.config
        # Constant-time, like every secret comparison (the simulator is reachable on a port).
        ok = hmac.compare_digest(pdu.system_id.encode(), cfg.system_id.encode()) & (
            hmac.compare_digest(pdu.password.encode(), cfg.password.encode())
        )
        status = CommandStatus.ESME_ROK if ok else CommandStatus.ESME_RINVPASWD
        response = _BIND_RESPONSES[type(pdu)]
        self.send(
            response(  # type: ignore[call-arg]
                sequence_number=pdu.sequence_number, command_status=status, system_id="SIMSMSC"
            )
        )
        if ok:
            self.system_id = pdu.system_id
            self.can_receive = not isinstance(pdu, BindTransmitter)
            self.sim.stats.binds += 1
            self.sim.stats.recent_binds.append(pdu)
            self.sim.flush()

    def _on_submit(self, pdu: SubmitSm) -> None:
        cfg = self.sim.config
        stats = self.sim.stats
        if not self.sim.admit():
            stats.throttled += 1
            self.send(
                SubmitSmResp(
                    sequence_number=pdu.sequence_number,
                    command_status=CommandStatus.ESME_RTHROTTLED,
                )
            )
            return
        if cfg.reject_ratio and random.random() < cfg.reject_ratio:
            stats.rejected += 1
            self.send(
                SubmitSmResp(sequence_number=pdu.sequence_number, command_status=cfg.reject_status)
            )
            return
        message_id = self.sim.next_message_id()
        stats.submits += 1
        stats.recent_submits.append(pdu)
        wants_receipt = pdu.registered_delivery & 0x03 != 0
        submitted_at = datetime.now(UTC)
        if wants_receipt and cfg.receipt_before_response:
            self._send_receipt(pdu, message_id, submitted_at)
        response = SubmitSmResp(sequence_number=pdu.sequence_number, message_id=message_id)
        if cfg.submit_latency:
            self._loop.call_later(cfg.submit_latency, self._send_if_open, response)
        else:
            self.send(response)
        if wants_receipt and not cfg.receipt_before_response:
            self._loop.call_later(
                cfg.receipt_delay, self._send_receipt, pdu, message_id, submitted_at
            )

    def _send_if_open(self, pdu: Pdu) -> None:
        if self.is_open:
            self.send(pdu)

    def _send_receipt(self, submit: SubmitSm, message_id: str, submitted_at: datetime) -> None:
        delivered = random.random() < self.sim.config.delivered_ratio
        receipt = Receipt(
            message_id=message_id,
            state=MessageState.DELIVERED if delivered else MessageState.UNDELIVERABLE,
            error_code="000" if delivered else "001",
            submitted=1,
            delivered=1 if delivered else 0,
            submit_date=submitted_at,
            done_date=datetime.now(UTC),
            text=_receipt_snippet(submit),
            network_error=None,
        )
        pdu: DeliverSm = build_receipt_pdu(
            receipt,
            source_addr=submit.destination_addr,
            destination_addr=submit.source_addr,
        )
        self.sim.queue_receipt(self.system_id, pdu, preferred=self)


def _receipt_snippet(submit: SubmitSm) -> str:
    """The text the receipt's `text:` field starts from: the message's, decoded."""
    try:
        part = decode_short_message(
            submit.short_message,
            data_coding=submit.data_coding,
            udhi=bool(submit.esm_class & ESM_CLASS_UDHI),
            packed=False,
        )
        text = part.text() or ""
    except ValueError:
        text = ""
    return text


async def run_simulator(config: SimulatorConfig) -> None:
    """Run until cancelled (`python -m gateway simulate`)."""
    simulator = Simulator(config)
    await simulator.start()
    tune_for_service()
    print(
        f"SMSC simulator on {config.host}:{simulator.port}"
        f" (system_id={config.system_id!r}, password={config.password!r})",
        flush=True,
    )
    try:
        await asyncio.Event().wait()  # until cancelled
    finally:
        await simulator.stop()
