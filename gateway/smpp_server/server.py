"""The SMPP server for aggregators: we are their SMSC.

Keeps the registry of live connections and binds per system_id (bind limits, receivers for
receipts, orderly shutdown), authenticates binds, and turns submits into committed messages and
queries or cancellations into store calls. The protocol work is in `connection.py`, the
translation of fields in `mapping.py` and `submission.py`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import ssl
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from prometheus_client import Counter

from gateway.cancellation import Cancellation
from gateway.delivery import SmppOutboxDelivery
from gateway.dispatch import Dispatcher
from gateway.domain import (
    GatewayError,
    MessageRecord,
    MessageType,
    NewMessage,
    OutboxItem,
    SmppCredential,
    Status,
    parse_public_part_id,
)
from gateway.domain.errors import NotCancellable, NotFound
from gateway.intake import Intake, validate_sender
from gateway.metrics import Metrics
from gateway.passwords import verify_password
from gateway.phone import normalize_e164
from gateway.ratelimit import Gcra
from gateway.smpp.address import from_smpp
from gateway.smpp.codes import CommandId, CommandStatus, status_name
from gateway.smpp.fields import UnsuccessSme
from gateway.smpp.pdu import (
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    CancelSm,
    CancelSmResp,
    DataSm,
    DataSmResp,
    Pdu,
    QuerySm,
    QuerySmResp,
    ReplaceSm,
    ReplaceSmResp,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
)
from gateway.smpp.receipt import MessageState
from gateway.smpp_handoff import receive_connections
from gateway.smpp_server.connection import EsmeConnection
from gateway.smpp_server.mapping import (
    destination_e164,
    format_smpp_time,
    status_for_error,
)
from gateway.smpp_server.submission import (
    PROMOTIONAL_SERVICES,
    Built,
    SubmissionBuilder,
    replacement,
)
from gateway.status import StatusWriter
from gateway.store import Store

log = logging.getLogger(__name__)

# Called once with a request's response, or with the exception to answer it for.
Answer = Callable[[Pdu | BaseException], None]

_QUERY_STATE = {
    Status.ACCEPTED: MessageState.ACCEPTED,
    Status.SCHEDULED: MessageState.ENROUTE,
    Status.QUEUED: MessageState.ENROUTE,
    Status.SUBMITTED: MessageState.ENROUTE,
    Status.DELIVERED: MessageState.DELIVERED,
    Status.UNDELIVERED: MessageState.UNDELIVERABLE,
    Status.EXPIRED: MessageState.EXPIRED,
    Status.REJECTED: MessageState.REJECTED,
    Status.FAILED: MessageState.UNDELIVERABLE,
    Status.CANCELLED: MessageState.DELETED,
}


@dataclass
class SmppServerSettings:
    host: str = "127.0.0.1"
    port: int = 2775
    window: int = 100  # requests an ESME may have in progress per bind
    deliver_window: int = 50  # our deliver_sm awaiting an answer per bind
    enquire_link_interval: float = 30.0
    response_timeout: float = 10.0
    tls: ssl.SSLContext | None = None
    reuse_port: bool = False  # several worker processes share the port
    # Connections accepted by the supervisor come on this channel instead of a listener.
    handoff_fd: int | None = None
    # Against slowloris and idle sockets: a connection must bind within bind_timeout, finish
    # each PDU it starts within pdu_timeout, and read what we send (buffer over
    # write_buffer_limit octets for write_stall_timeout: closed). None disables a timeout.
    bind_timeout: float | None = 15.0
    pdu_timeout: float | None = 15.0
    write_stall_timeout: float | None = 30.0
    write_buffer_limit: int = 256 * 1024
    max_connections: int = 1000  # open connections, bound or not
    max_connections_per_address: int = 50  # from one source address


class SmppServer:
    def __init__(
        self,
        *,
        settings: SmppServerSettings,
        store: Store,
        intake: Intake,
        status: StatusWriter,
        dispatcher: Dispatcher,
        metrics: Metrics,
        node_id: str,
        packed: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._store = store
        self._intake = intake
        self._status = status
        self._dispatcher = dispatcher
        self._metrics = metrics
        self._pdu_counters: dict[CommandId, Counter] = {}
        self._response_counters: dict[tuple[CommandId, int], Counter] = {}
        self._clock = clock
        self._packed = packed
        self._builder = SubmissionBuilder(intake=intake, packed=packed, clock=clock)
        self._cancellation = Cancellation(
            store=store, dispatcher=dispatcher, status=status, clock=clock
        )
        self._server: asyncio.Server | None = None
        self.connections: set[EsmeConnection] = set()
        self._per_address: dict[str, int] = {}
        self._binds: dict[str, list[EsmeConnection]] = defaultdict(list)
        self._failures: dict[str, int] = {}
        self._rates: dict[str, Gcra] = {}
        self._unbinding: set[asyncio.Task[None]] = set()
        self.delivery = SmppOutboxDelivery(store=store, registry=self, node_id=node_id)
        # A status commit may owe an ESME a receipt (of a message or of one of its parts):
        # handed over leased when a receiver is bound here, else a claim looks at once.
        status.hand_receipts_to(self.delivery)
        self.port = settings.port
        self.accepting = True
        self._stop_handoff: Callable[[], None] | None = None
        self._handing_over: set[asyncio.Task[object]] = set()

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.settings.handoff_fd is not None:
            self._stop_handoff = receive_connections(
                loop, self.settings.handoff_fd, self._serve_handed_over
            )
            self.delivery.start()
            log.info("SMPP server taking connections from the supervisor on port %d", self.port)
            return
        self._server = await loop.create_server(
            lambda: EsmeConnection(self),
            self.settings.host,
            self.settings.port,
            ssl=self.settings.tls,
            reuse_port=self.settings.reuse_port or None,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self.delivery.start()
        log.info("SMPP server listening on %s:%d", self.settings.host, self.port)

    def _serve_handed_over(self, sock: socket.socket) -> None:
        if not self.accepting:
            sock.close()
            return
        loop = asyncio.get_running_loop()
        task = loop.create_task(
            loop.connect_accepted_socket(lambda: EsmeConnection(self), sock, ssl=self.settings.tls)
        )
        self._handing_over.add(task)
        task.add_done_callback(self._handed_over)

    def _handed_over(self, task: asyncio.Task[object]) -> None:
        self._handing_over.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("an SMPP connection handed over failed to start: %s", task.exception())

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop listening, let every bind answer what it has in progress, unbind, close."""
        self.accepting = False
        if self._server is not None:
            self._server.close()
        if self._stop_handoff is not None:
            self._stop_handoff()
            self._stop_handoff = None
        for task in self._handing_over:  # a TLS handshake still under way: it could not bind
            task.cancel()
        await asyncio.gather(
            *(c.unbind(timeout) for c in list(self.connections)), return_exceptions=True
        )
        await asyncio.gather(*self._unbinding, return_exceptions=True)
        await self.delivery.stop()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    # -- registry ---------------------------------------------------------------------------

    def connection_opened(self, conn: EsmeConnection) -> bool:
        """Register a new connection; False (refuse it) when over a connection cap."""
        address = _address(conn)
        if len(self.connections) >= self.settings.max_connections:
            self.connection_dropped("max_connections")
            log.warning("SMPP connection refused: %d open", len(self.connections))
            return False
        if self._per_address.get(address, 0) >= self.settings.max_connections_per_address:
            self.connection_dropped("max_connections_per_address")
            log.warning("SMPP connection refused: too many from %s", address)
            return False
        self._per_address[address] = self._per_address.get(address, 0) + 1
        conn.admitted = True
        self.connections.add(conn)
        self._metrics.smpp_connections.set(len(self.connections))
        return True

    def connection_dropped(self, reason: str) -> None:
        self._metrics.smpp_dropped.labels(reason=reason).inc()

    def connection_closed(self, conn: EsmeConnection, undelivered: list[OutboxItem]) -> None:
        if conn.admitted:
            conn.admitted = False
            address = _address(conn)
            left = self._per_address.get(address, 1) - 1
            if left > 0:
                self._per_address[address] = left
            else:
                self._per_address.pop(address, None)
        self.connections.discard(conn)
        self._metrics.smpp_connections.set(len(self.connections))
        if conn.system_id is not None and conn in self._binds[conn.system_id]:
            self._binds[conn.system_id].remove(conn)
            self._metrics.smpp_binds.labels(system_id=conn.system_id).set(
                len(self._binds[conn.system_id])
            )
        if undelivered:
            self.delivery.lost(undelivered)

    def bound(self, conn: EsmeConnection) -> None:
        assert conn.system_id is not None
        self._binds[conn.system_id].append(conn)
        self._metrics.smpp_binds.labels(system_id=conn.system_id).set(
            len(self._binds[conn.system_id])
        )
        if conn.can_receive:
            self.delivery.wake()

    def receivers(self, system_id: str) -> Sequence[EsmeConnection]:
        return [c for c in self._binds.get(system_id, ()) if c.can_receive and c.is_open]

    def receiving_system_ids(self) -> Sequence[str]:
        return [s for s, conns in self._binds.items() if any(c.can_receive for c in conns)]

    def delivery_answered(self, item: OutboxItem, status: int) -> None:
        self.delivery.answered(item, status)

    def metrics_throttled(self) -> None:
        self._metrics.smpp_throttled.inc()

    def request_received(self, pdu: Pdu) -> None:
        # Label children cached per command: a lookup per PDU instead of prometheus_client's
        # label validation and lock.
        counter = self._pdu_counters.get(pdu.command_id)
        if counter is None:
            counter = self._metrics.smpp_pdus.labels(command=pdu.command_id.name.lower())
            self._pdu_counters[pdu.command_id] = counter
        counter.inc()

    def response_sent(self, pdu: Pdu) -> None:
        key = (pdu.command_id, pdu.command_status)
        counter = self._response_counters.get(key)
        if counter is None:
            counter = self._metrics.smpp_responses.labels(
                command=pdu.command_id.name.lower(), status=status_name(pdu.command_status)
            )
            self._response_counters[key] = counter
        counter.inc()

    # -- binds ------------------------------------------------------------------------------

    async def authenticate(
        self, conn: EsmeConnection, pdu: BindTransmitter | BindReceiver | BindTransceiver
    ) -> tuple[int, SmppCredential | None]:
        peer = str(conn.peer[0]) if conn.peer else "?"
        # Each failed bind from an address doubles the wait before the next answer. Every
        # attempt is counted once, before the check, so attempts made at once wait their turn
        # too; a right password clears the address.
        failures = self._failures.pop(peer, 0)
        self._failures[peer] = failures + 1  # most recent last
        while len(self._failures) > 10_000:  # bounded: forget the oldest address
            del self._failures[next(iter(self._failures))]
        if failures:
            await asyncio.sleep(min(0.25 * 2 ** (failures - 1), 10.0))
        if not self.accepting:
            return CommandStatus.ESME_RBINDFAIL, None
        credential = await self._store.smpp_credential(pdu.system_id)
        ok = credential is not None and await asyncio.to_thread(
            verify_password, pdu.password, credential.password_hash
        )
        if not ok or credential is None:
            # Unknown system_id and wrong password look the same from outside.
            log.warning("SMPP bind refused: bad credentials", extra={"peer": peer})
            return CommandStatus.ESME_RINVPASWD, None
        self._failures.pop(peer, None)
        if not _allowed(peer, credential.allowed_networks):
            log.warning("SMPP bind refused: address not allowed", extra={"peer": peer})
            return CommandStatus.ESME_RBINDFAIL, None
        account = await self._store.get_account_settings(credential.account_id)
        if account is not None and not account.active:
            log.warning("SMPP bind refused: account suspended", extra={"system_id": pdu.system_id})
            return CommandStatus.ESME_RBINDFAIL, None
        if len(self._binds.get(credential.system_id, ())) >= credential.max_binds:
            log.warning("SMPP bind refused: too many binds", extra={"system_id": pdu.system_id})
            return CommandStatus.ESME_RBINDFAIL, None
        return CommandStatus.ESME_ROK, credential

    async def revalidate_binds(self) -> None:
        """Apply an admin change to the binds already open: one whose credential was removed or
        given a new password, whose account was suspended, or whose address is no longer
        allowed is unbound (after answering what it has in flight), as a new bind would be
        refused; the others carry on under the credential's new limits."""
        for system_id, conns in list(self._binds.items()):
            if not conns:
                continue
            credential = await self._store.smpp_credential(system_id)
            account = (
                None
                if credential is None
                else await self._store.get_account_settings(credential.account_id)
            )
            for conn in list(conns):
                reason = _revoked(conn, credential, account is None or account.active)
                if reason is None:
                    conn.credential = credential
                    continue
                log.warning("SMPP bind closed: %s", reason, extra={"system_id": system_id})
                task = asyncio.create_task(conn.unbind(timeout=5.0), name="smpp-revoke")
                self._unbinding.add(task)
                task.add_done_callback(self._unbinding.discard)

    # -- submits ----------------------------------------------------------------------------

    def _within_rate(self, credential: SmppCredential) -> bool:
        if credential.throughput <= 0:
            return True
        limit = self._rates.get(credential.system_id)
        if limit is None or limit.rate != credential.throughput:
            limit = self._rates[credential.system_id] = Gcra(
                credential.throughput, burst=max(credential.throughput / 10, 1)
            )
        return limit.try_take(1) == 0

    def start_submit(
        self, credential: SmppCredential, pdu: SubmitSm | DataSm, answer: Answer
    ) -> asyncio.Task[None] | None:
        """Take a submit_sm or data_sm in and call `answer` once, with its response or with
        the exception to answer for: at once when it is refused, else when its commit ends.
        Raises (a `GatewayError`, say) for the caller to answer instead.

        Usually no task and no coroutine per PDU: the message is admitted at once (cached
        opt-out list and account settings) and the response follows the group commit's future.
        A task (returned, for the caller to cancel when the ESME leaves) only where something
        must be awaited first: a policy that reads the store, a later part of a long message
        waiting for its first part's commit, a retransmitted part waiting for the original's.
        """
        refusal = self._refusal(credential, pdu)
        if refusal is not None:
            answer(refusal)
            return None
        built = self._build(credential, pdu, pdu.destination_addr, pdu.dest_addr_ton)
        response_type = SubmitSmResp if isinstance(pdu, SubmitSm) else DataSmResp
        response = response_type(sequence_number=pdu.sequence_number, message_id=built.public_id)
        message = None
        if built.message is not None and built.after is None:
            try:
                message = self._intake.admit_now(built.message)
            except BaseException as exc:
                self._settle_error(built, exc)
                raise
        if message is None:
            return self._commit_in_task(built, response, answer)

        def written(done: asyncio.Future[bool]) -> None:
            if done.cancelled():
                answer(RuntimeError("commit cancelled"))
            else:
                answer(done.exception() or response)

        self._hand_in(built, message, then=written)
        return None

    def _commit_in_task(self, built: Built, response: Pdu, answer: Answer) -> asyncio.Task[None]:
        started = False

        async def commit() -> None:
            nonlocal started
            started = True
            await self._commit_then_answer(built, response, answer)

        def ended(task: asyncio.Task[None]) -> None:
            # Cancelled before its first step (the ESME left at once), `_commit` never ran to
            # settle the part `_build` registered: a retransmit would wait on it for ever.
            if task.cancelled() and not started and built.message is not None:
                self._settle_error(built, RuntimeError("submit cancelled before it started"))

        task = asyncio.ensure_future(commit())
        task.add_done_callback(ended)
        return task

    async def _commit_then_answer(self, built: Built, response: Pdu, answer: Answer) -> None:
        try:
            await self._commit(built)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            answer(exc)
        else:
            answer(response)

    def _refusal(self, credential: SmppCredential, pdu: Pdu) -> Pdu | None:
        """The answer to a submit refused before any work: draining, or over the rate."""
        if not self.accepting:
            return _reply(pdu, CommandStatus.ESME_RX_T_APPN)
        if not self._within_rate(credential):
            self._metrics.smpp_throttled.inc()
            return _reply(pdu, CommandStatus.ESME_RTHROTTLED)
        return None

    async def submit_multi(self, credential: SmppCredential, pdu: SubmitMulti) -> Pdu:
        """submit_multi, as a task (submit_sm and data_sm go through `start_submit`)."""
        refusal = self._refusal(credential, pdu)
        if refusal is not None:
            return refusal
        return await self._submit_multi(credential, pdu)

    def _build(
        self,
        credential: SmppCredential,
        pdu: SubmitSm | DataSm | SubmitMulti,
        address: str,
        ton: int,
    ) -> Built:
        return self._builder.build(
            account_id=credential.account_id,
            system_id=credential.system_id,
            pdu=pdu,
            destination_addr=address,
            dest_addr_ton=ton,
        )

    async def _commit(self, built: Built) -> None:
        """Commit a built message; for a retransmitted part, wait for the original's commit."""
        if built.message is None:
            if built.commit is not None:
                await asyncio.shield(built.commit)
            return
        try:
            if built.after is not None:
                # A later part joins the row its first part writes: it follows that commit,
                # and fails with it (the ESME then sends the parts again).
                await asyncio.shield(built.after)
            message = await self._intake.admit(built.message)
        except BaseException as exc:  # nothing handed in: the part is forgotten
            self._settle_error(built, exc)
            raise
        await asyncio.shield(self._hand_in(built, message))

    def _hand_in(
        self,
        built: Built,
        message: NewMessage,
        *,
        then: Callable[[asyncio.Future[bool]], None] | None = None,
    ) -> asyncio.Future[bool]:
        """Hand an admitted message to the group commit. What its write settles (the part's
        commit future, or forgetting the part), and `then`, follow the write in one callback:
        no task per PDU, and the write ends even if the request is given up."""
        try:
            write = self._intake.hand_in(message)
        except BaseException as exc:  # nothing handed in: the part is forgotten
            self._settle_error(built, exc)
            raise

        def written(done: asyncio.Future[bool]) -> None:
            self._settle(built, done)
            if then is not None:
                then(done)

        write.add_done_callback(written)
        return write

    def _settle(self, built: Built, write: asyncio.Future[bool]) -> None:
        error = RuntimeError("commit cancelled") if write.cancelled() else write.exception()
        self._settle_error(built, error)

    def _settle_error(self, built: Built, error: BaseException | None) -> None:
        if isinstance(error, asyncio.CancelledError):
            error = RuntimeError("commit cancelled")
        if error is not None:
            self._builder.abandon(built)
        if built.commit is not None and not built.commit.done():
            if error is None:
                built.commit.set_result(None)
            else:
                built.commit.set_exception(error)
                built.commit.exception()  # marked retrieved: nobody may be waiting for it

    async def _submit_multi(self, credential: SmppCredential, pdu: SubmitMulti) -> Pdu:
        unsuccess: list[UnsuccessSme] = []
        first_id = ""
        logged = False
        for dest in pdu.dest_addresses:
            if dest.dl_name:
                unsuccess.append(UnsuccessSme(0, 0, dest.dl_name, CommandStatus.ESME_RINVDLNAME))
                continue
            try:
                built = self._build(credential, pdu, dest.destination_addr, dest.dest_addr_ton)
                await self._commit(built)
                first_id = first_id or built.public_id
            except GatewayError as exc:
                status = status_for_error(exc)
            except Exception:
                # Not for the whole PDU: the destinations before this one are committed, and
                # an ESME that retried the PDU would send them twice. This one is listed as
                # failed, for the ESME to resend alone.
                if not logged:  # once per PDU: an outage would fail all 254 destinations
                    log.exception(
                        "submit_multi from %s: a destination failed", credential.system_id
                    )
                    logged = True
                status = CommandStatus.ESME_RSYSERR
            else:
                continue
            unsuccess.append(
                UnsuccessSme(dest.dest_addr_ton, dest.dest_addr_npi, dest.destination_addr, status)
            )
        if not first_id:
            return SubmitMultiResp(
                sequence_number=pdu.sequence_number,
                command_status=CommandStatus.ESME_RSUBMITFAIL,
                unsuccess_sme=tuple(unsuccess),
            )
        return SubmitMultiResp(
            sequence_number=pdu.sequence_number, message_id=first_id, unsuccess_sme=tuple(unsuccess)
        )

    # -- query, cancel, replace -------------------------------------------------------------

    async def manage(self, credential: SmppCredential, pdu: Pdu) -> Pdu:
        match pdu:
            case QuerySm():
                return await self._query(credential, pdu)
            case CancelSm():
                return await self._cancel(credential, pdu)
            case ReplaceSm():
                return await self._replace(credential, pdu)
        return _reply(pdu, CommandStatus.ESME_RINVCMDID)

    async def _query(self, credential: SmppCredential, pdu: QuerySm) -> Pdu:
        message_id, seq = parse_public_part_id(pdu.message_id)
        record = await self._store.get_message(
            account_id=credential.account_id, message_id=message_id
        )
        if record is None:
            raise NotFound("no such message")
        status, done_at, error = record.status, record.done_at, record.error_code
        if seq is not None:
            part = next((p for p in record.parts if p.seq == seq), None)
            if part is None:
                raise NotFound("no such part")
            status, done_at, error = part.status, part.done_at, part.error_code
        return QuerySmResp(
            sequence_number=pdu.sequence_number,
            message_id=pdu.message_id,
            final_date=format_smpp_time(done_at) if done_at and status.terminal else "",
            message_state=_QUERY_STATE[status],
            error_code=_network_error(error),
        )

    async def _cancel(self, credential: SmppCredential, pdu: CancelSm) -> Pdu:
        if not pdu.message_id:
            return await self._cancel_matching(credential, pdu)
        message_id, _ = parse_public_part_id(pdu.message_id)
        try:
            await self._cancellation.cancel(account_id=credential.account_id, message_id=message_id)
        except NotCancellable:
            return CancelSmResp(
                sequence_number=pdu.sequence_number, command_status=CommandStatus.ESME_RCANCELFAIL
            )
        return CancelSmResp(sequence_number=pdu.sequence_number)

    async def _cancel_matching(self, credential: SmppCredential, pdu: CancelSm) -> Pdu:
        """SMPP 3.4 §4.9: a cancel_sm without a message_id cancels the messages to its
        destination_addr from its source_addr (and of its service_type, when given, as
        submit_sm reads it: promotional or not) that no node has started sending. ESME_ROK
        when it cancelled any, else ESME_RCANCELFAIL."""
        destination = normalize_e164(destination_e164(pdu.destination_addr, pdu.dest_addr_ton))
        source = (
            validate_sender(from_smpp(pdu.source_addr, pdu.source_addr_ton))
            if pdu.source_addr
            else None
        )
        service = pdu.service_type.strip().upper()
        promotional = service in PROMOTIONAL_SERVICES

        def keep(record: MessageRecord) -> bool:
            return not service or (record.message_type is MessageType.PROMOTIONAL) == promotional

        cancelled = await self._cancellation.cancel_matching(
            account_id=credential.account_id, destination=destination, source=source, keep=keep
        )
        return CancelSmResp(
            sequence_number=pdu.sequence_number,
            command_status=CommandStatus.ESME_ROK if cancelled else CommandStatus.ESME_RCANCELFAIL,
        )

    async def _replace(self, credential: SmppCredential, pdu: ReplaceSm) -> Pdu:
        """Replace a message that has not been taken for sending yet (typically a scheduled
        one); anything already in a node's hands, or sent by another source, is refused with
        ESME_RREPLACEFAIL. The new text and schedule get the checks a submit_sm gets."""
        message_id, _ = parse_public_part_id(pdu.message_id)
        record = await self._store.get_message(
            account_id=credential.account_id, message_id=message_id
        )
        if record is None:
            raise NotFound("no such message")
        now = self._clock()
        new = replacement(record, pdu, now=now, packed=self._packed)
        replaced = False
        if new is not None:
            send_at = new.send_at
            if send_at is not None:  # a new time is judged by the recipient's quiet hours
                send_at = await self._intake.quiet_hold(
                    account_id=credential.account_id,
                    destination=record.destination,
                    message_type=record.message_type,
                    at=send_at,
                )
            replaced = await self._store.replace_pending(
                account_id=credential.account_id,
                message_id=message_id,
                udh=b"",
                payload=new.payload,
                body=new.body,
                send_at=send_at,
                expires_at=new.expires_at,
                now=now,
            )
        return ReplaceSmResp(
            sequence_number=pdu.sequence_number,
            command_status=CommandStatus.ESME_ROK if replaced else CommandStatus.ESME_RREPLACEFAIL,
        )


def _reply(pdu: Pdu, status: int) -> Pdu:
    from gateway.smpp.pdu import error_reply

    return error_reply(pdu.command_id, pdu.sequence_number, status)


def _revoked(
    conn: EsmeConnection, credential: SmppCredential | None, account_active: bool
) -> str | None:
    """Why an open bind may no longer stay bound, or None."""
    bound_with = conn.credential
    if credential is None or bound_with is None or credential.account_id != bound_with.account_id:
        return "credential removed"
    if credential.password_hash != bound_with.password_hash:
        return "password changed"
    if not account_active:
        return "account suspended"
    if not _allowed(_address(conn), credential.allowed_networks):
        return "address no longer allowed"
    return None


def _address(conn: EsmeConnection) -> str:
    return str(conn.peer[0]) if conn.peer else "?"


def _allowed(peer: str, networks: Sequence[str]) -> bool:
    if not networks:
        return True
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(n, strict=False) for n in networks)


def _network_error(code: str | None) -> int:
    if not code:
        return 0
    try:
        return int(code, 0) & 0xFF
    except ValueError:
        return 0
