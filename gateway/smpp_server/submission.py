"""From an ESME's submit_sm / data_sm to messages the intake commits.

A short message is one message. A long message arrives as several submit_sm, each carrying a
part with its UDH (or SAR TLVs) and each answered on its own after its own commit: the first part
creates the message with the declared part count, later parts join it, and the text is decoded
only once all parts are there, because common clients cut a surrogate pair or a GSM escape
pair across parts. A long text sent in one PDU (message_payload) is segmented here like a REST
text and gets one receipt for the whole message.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.domain import MessageRecord, MessageType, NewMessage, NewPart, new_id, public_part_id
from gateway.domain.errors import ClientError, EmptyText, TextTooLong
from gateway.intake import Intake, validate_sender
from gateway.phone import normalize_e164, same_sender
from gateway.slots import slot_init
from gateway.smpp.address import from_smpp
from gateway.smpp.pdu import DataSm, ReplaceSm, SubmitMulti, SubmitSm
from gateway.smpp.tlv import Tlv, sar_of
from gateway.smpp_server.mapping import destination_e164, parse_schedule, parse_smpp_time
from gateway.text import (
    DATA_CODING,
    ESM_CLASS_UDHI,
    Encoding,
    UnencodableText,
    body_units,
    capacity,
    concat_udh,
    decode_body,
    decode_short_message,
    encode_text,
    encoding_for_data_coding,
)

# service_type values (SMPP 3.4 §5.2.11, free for the SMSC to define) that mark marketing
# traffic: the opt-out list and quiet hours apply to it.
PROMOTIONAL_SERVICES = frozenset({"PROMO", "MKT"})


class PartTooLongError(ClientError):
    code = "message.text_too_long"
    http_status = 422
    title = "Part too long for one segment"


class InvalidConcatenationError(ClientError):
    code = "smpp.invalid_concatenation"
    http_status = 422
    title = "Invalid concatenation information"


@dataclass
class _Assembly:
    message_id: str
    total: int
    created: float
    bodies: dict[int, bytes] = field(default_factory=dict)  # seq (1-based) -> body
    locking: int | None = None
    single: int | None = None
    encoding: Encoding = Encoding.GSM7
    refused: str | None = None  # why an earlier part was refused: later parts are too
    # seq -> the commit of that part: a retransmit is answered from its outcome, never before.
    commits: dict[int, asyncio.Future[None]] = field(default_factory=dict)
    # The commit of the part that created the message row; the other parts join that row, so
    # their writes must not overtake it (each part is committed as soon as it is admitted).
    creation: asyncio.Future[None] | None = None


@dataclass(frozen=True, slots=True)
class Replacement:
    """What a replace_sm asks to change in a queued one-part message."""

    payload: bytes  # the segment's user data, in the original's encoding
    body: str
    send_at: float | None  # None: keep the original's (a schedule past means now)
    expires_at: float | None  # None: keep the original's


def replacement(
    record: MessageRecord, pdu: ReplaceSm, *, now: float, packed: bool
) -> Replacement | None:
    """Check a replace_sm against the message it names, as a submit_sm is checked; None when
    it names another sender's message. replace_sm has no data_coding: the new short_message is
    in the original's encoding, and it must still fit the original's one segment, which was
    routed and priced as one."""
    if pdu.source_addr:
        # SMPP 3.4 §4.10.1: source_addr, when given, must match the original's.
        source = validate_sender(from_smpp(pdu.source_addr, pdu.source_addr_ton))
        if not same_sender(source, record.source):
            return None
    send_at = parse_schedule(pdu.schedule_delivery_time, now=now)
    if send_at is not None and send_at <= now:
        send_at = now  # as for submit_sm: a time past means now (and replaces a later one)
    expires_at = parse_smpp_time(pdu.validity_period, now=now)
    part = decode_short_message(
        pdu.short_message,
        data_coding=DATA_CODING[Encoding(record.encoding)],
        udhi=False,
        packed=packed,
    )
    if not part.body:
        raise EmptyText("short_message is empty")
    units, room = body_units(part.encoding, part.body), capacity(part.encoding, 0)
    if units > room:
        raise TextTooLong(
            f"the new short_message needs {units} units; the message it replaces is one "
            f"segment of {room}"
        )
    return Replacement(part.body, part.text() or "", send_at, expires_at)


@slot_init
@dataclass(frozen=True, slots=True)
class Built:
    """A message (or a part of one) to commit, and the id to answer with."""

    message: NewMessage | None  # None: a retransmitted part, already committed
    public_id: str
    segments: int
    assembly_key: tuple[str, ...] | None = None
    assembly: _Assembly | None = None
    seq: int = 0
    # For a part: resolved when its commit ends. For a retransmit: the original's, to wait on.
    commit: asyncio.Future[None] | None = None
    # For a later part: the commit of the part that creates the message, to follow.
    after: asyncio.Future[None] | None = None


class SubmissionBuilder:
    def __init__(
        self,
        *,
        intake: Intake,
        packed: bool = False,
        max_assemblies: int = 100_000,
        assembly_ttl: float = 600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._intake = intake
        self._packed = packed
        self._max = max_assemblies
        self._ttl = assembly_ttl
        self._clock = clock
        self._assemblies: OrderedDict[tuple[str, ...], _Assembly] = OrderedDict()

    def build(
        self,
        *,
        account_id: str,
        system_id: str,
        pdu: SubmitSm | DataSm | SubmitMulti,
        destination_addr: str,
        dest_addr_ton: int,
    ) -> Built:
        now = self._clock()
        destination = normalize_e164(destination_e164(destination_addr, dest_addr_ton))
        sender = validate_sender(from_smpp(pdu.source_addr, pdu.source_addr_ton))
        send_at = parse_schedule(getattr(pdu, "schedule_delivery_time", ""), now=now)
        if send_at is not None and send_at <= now:
            # As over REST: a time past means now, so quiet hours judge the message by the
            # present, not by a time already gone.
            send_at = None
        expires_at = parse_smpp_time(getattr(pdu, "validity_period", ""), now=now)
        receipt = pdu.registered_delivery & 0x03
        priority_flag = getattr(pdu, "priority_flag", 0)
        message_type = MessageType.OTP if priority_flag >= 2 else MessageType.TRANSACTIONAL
        if message_type is not MessageType.OTP and pdu.service_type.upper() in PROMOTIONAL_SERVICES:
            message_type = MessageType.PROMOTIONAL
        route = self._intake.route(
            account_id=account_id, destination=destination, message_type=message_type, source=sender
        )
        base = {
            "account_id": account_id,
            "source": sender,
            "destination": destination,
            "message_type": message_type,
            "connector": route.connectors[0],
            "price": route.price,
            "created_at": now,
            "send_at": send_at,
            "expires_at": expires_at,
            "origin_system_id": system_id,
        }

        short_message = getattr(pdu, "short_message", b"")
        payload_tlv = pdu.tlvs.get(Tlv.MESSAGE_PAYLOAD)
        if not short_message and isinstance(payload_tlv, bytes):
            return self._whole_text(pdu, payload_tlv, receipt, base)
        udhi = bool(pdu.esm_class & ESM_CLASS_UDHI)
        sar = sar_of(pdu.tlvs)
        try:
            part = decode_short_message(
                short_message, data_coding=pdu.data_coding, udhi=udhi, packed=self._packed, sar=sar
            )
        except ValueError as exc:
            raise InvalidConcatenationError(f"malformed user data header: {exc}") from None
        udh = short_message[: 1 + short_message[0]] if udhi and short_message else b""
        if part.concat is None or part.concat[1] == 1:
            if not part.body and not udh:
                raise EmptyText("short_message is empty")
            if not udh and body_units(part.encoding, part.body) > capacity(part.encoding, 0):
                # Longer than one SMS (SMPP allows 254 octets): split it as we split REST text,
                # rather than pass upstream what a handset network cannot carry.
                return self._whole_text(pdu, short_message, receipt, base)
            text = part.text() or ""
            message = NewMessage(
                id=new_id(now),
                body=text,
                encoding=part.encoding.value,
                parts=(NewPart(0, part.encoding.value, pdu.data_coding, udh, part.body, receipt),),
                **base,  # type: ignore[arg-type]
            )
            return Built(message, message.id, 1)

        reference, total, seq = part.concat
        if not 1 <= seq <= total:
            raise InvalidConcatenationError(f"part {seq} of {total} is out of range")
        if not udh:  # SAR TLVs: upstreams get a concatenation UDH
            udh = concat_udh(reference, total, seq, ref16=reference > 0xFF)
        key = (account_id, sender, destination, str(reference), str(total))
        assembly = self._assemblies.get(key)
        room = capacity(part.encoding, len(udh))
        if assembly is not None and assembly.refused:
            raise PartTooLongError(assembly.refused)
        if body_units(part.encoding, part.body) > room:
            # Parts are sent on as they come (each was acknowledged on its own), so one that
            # cannot fit a segment with its UDH is refused now, not accepted and then stuck;
            # so are the message's later parts, so the ESME sees one answer for the message.
            why = (
                f"a part carries {body_units(part.encoding, part.body)} units; a concatenated "
                f"segment holds {room}: split into smaller parts or use message_payload"
            )
            if assembly is None:
                self._expire(now)
                self._assemblies[key] = _Assembly("", total, now, refused=why)
            else:
                assembly.refused = why
            raise PartTooLongError(why)
        if assembly is not None and seq in assembly.bodies:
            if assembly.bodies[seq] == part.body:
                # The ESME retransmitted (its timer ran out): the same id, once the original
                # part is committed, and its failure if it failed.
                return Built(
                    None,
                    public_part_id(assembly.message_id, seq - 1, total),
                    total,
                    commit=assembly.commits.get(seq),
                )
            assembly = None  # the reference came round again: a new message
        first = assembly is None
        if assembly is None:
            self._expire(now)
            assembly = _Assembly(new_id(now), total, now, encoding=part.encoding)
            self._assemblies[key] = assembly
        assembly.bodies[seq] = part.body
        commit = assembly.commits[seq] = asyncio.get_running_loop().create_future()
        if first:
            assembly.creation = commit
        assembly.locking = assembly.locking or part.national_locking
        assembly.single = assembly.single or part.national_single
        body = ""
        if len(assembly.bodies) == total:
            joined = b"".join(assembly.bodies[i] for i in range(1, total + 1))
            body = (
                decode_body(
                    assembly.encoding, joined, locking=assembly.locking, single=assembly.single
                )
                or ""
            )
            # Kept until its TTL, complete: a retransmitted part still gets the original id.
        message = NewMessage(
            id=assembly.message_id,
            body=body,
            encoding=assembly.encoding.value,
            parts=(
                NewPart(seq - 1, part.encoding.value, pdu.data_coding, udh, part.body, receipt),
            ),
            segments=total,
            continuation=not first,
            **base,  # type: ignore[arg-type]
        )
        return Built(
            message,
            public_part_id(assembly.message_id, seq - 1, total),
            total,
            key,
            assembly,
            seq,
            commit,
            after=None if first else assembly.creation,
        )

    def abandon(self, built: Built) -> None:
        """The commit of `built` failed: forget its part, so the ESME's retry is taken anew."""
        key, assembly = built.assembly_key, built.assembly
        if key is None or assembly is None or built.message is None:
            return
        assembly.bodies.pop(built.seq, None)
        assembly.commits.pop(built.seq, None)
        if not assembly.bodies and self._assemblies.get(key) is assembly:
            del self._assemblies[key]

    def _whole_text(
        self,
        pdu: SubmitSm | DataSm | SubmitMulti,
        payload: bytes,
        receipt: int,
        base: dict[str, object],
    ) -> Built:
        encoding = encoding_for_data_coding(pdu.data_coding)
        text = decode_short_message(
            payload, data_coding=pdu.data_coding, udhi=False, packed=self._packed
        ).text()
        if not text:
            raise EmptyText("message_payload is empty or binary")
        try:
            encoded = encode_text(text, encoding=encoding)
        except UnencodableText as exc:
            raise InvalidConcatenationError(str(exc)) from None
        total = len(encoded.segments)
        if total > self._intake.max_segments:  # as for REST text: ESME_RINVMSGLEN
            raise TextTooLong(
                f"message_payload needs {total} segments; at most "
                f"{self._intake.max_segments} are allowed"
            )
        message_id = new_id(float(base["created_at"]))  # type: ignore[arg-type]
        reference = self._intake.concat_reference(str(base["destination"])) if total > 1 else 0
        parts = tuple(
            NewPart(
                i,
                encoded.encoding.value,
                encoded.data_coding,
                concat_udh(
                    reference,
                    total,
                    i + 1,
                    national=encoded.national,
                    locking=encoded.locking_shift,
                    single=encoded.single_shift,
                ),
                segment.payload,
            )
            for i, segment in enumerate(encoded.segments)
        )
        message = NewMessage(
            id=message_id,
            body=encoded.text,
            encoding=encoded.encoding.value,
            parts=parts,
            esme_receipt=receipt,
            **base,  # type: ignore[arg-type]
        )
        return Built(message, message_id, total)

    def _expire(self, now: float) -> None:
        """Forget assemblies older than the TTL or beyond the bound. Parts already committed
        stay committed and are sent; only a late part would then start a message of its own."""
        while self._assemblies:
            key, oldest = next(iter(self._assemblies.items()))
            if now - oldest.created < self._ttl and len(self._assemblies) < self._max:
                break
            del self._assemblies[key]
