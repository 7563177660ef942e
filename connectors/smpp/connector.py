"""SMPP client connector: sends parts to a carrier's SMSC over one or more binds.

Parts are rendered for this upstream here (septet packing, UDH) from the canonical form the
store keeps, so two connectors with different settings can carry the same message. Receipts
from every bind are committed in groups before their deliver_sm_resp is sent: an acknowledged
receipt is never lost, and a burst of receipts costs one transaction.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from connectors.smpp.bind import Bind, BindSettings, DeliverOutcome, SubmitNotAnsweredError
from connectors.smpp.options import (
    AddressPlan,
    bind_mode,
    carrier_data_coding,
    data_codings,
    flag,
    tls_context,
)
from connectors.smpp.receipt_ids import ReceiptIdForm, RecentIds, receipt_id, submit_id
from gateway.connector import (
    BindHealth,
    ConnectorEvents,
    SubmitOutcome,
    UpstreamReceipt,
)
from gateway.domain import InboundPart, PartRecord, Status, UpstreamError
from gateway.groupcommit import GroupCommit
from gateway.smpp.address import from_smpp
from gateway.smpp.codes import CommandStatus, is_temporary, status_name
from gateway.smpp.errors import LocalProtocolError
from gateway.smpp.pdu import DeliverSm, SubmitSm, SubmitSmResp
from gateway.smpp.receipt import (
    MessageState,
    ReceiptParseError,
    is_delivery_receipt,
    is_intermediate_notification,
    parse_receipt,
)
from gateway.smpp.tlv import Tlv, TlvValue, sar_of
from gateway.text import (
    Concatenation,
    Encoding,
    Iei,
    body_units,
    capacity,
    decode_short_message,
    pack_septets,
    parse_udh,
)

log = logging.getLogger(__name__)

ESM_UDHI = 0x40  # SMPP 3.4 §5.2.12: short_message starts with a user data header

# Receipt states (SMPP 3.4 §5.2.28) in our lifecycle. ENROUTE and ACCEPTD are intermediate;
# UNKNOWN is not a verdict either, so it leaves the part submitted until a final report or its
# validity ends.
_RECEIPT_STATUS = {
    MessageState.ENROUTE: Status.SUBMITTED,
    MessageState.ACCEPTED: Status.SUBMITTED,
    MessageState.UNKNOWN: Status.SUBMITTED,
    MessageState.DELIVERED: Status.DELIVERED,
    MessageState.EXPIRED: Status.EXPIRED,
    MessageState.DELETED: Status.UNDELIVERED,
    MessageState.UNDELIVERABLE: Status.UNDELIVERED,
    MessageState.REJECTED: Status.REJECTED,
}


def render_short_message(udh: bytes, part: PartRecord, *, packed: bool) -> bytes:
    """UDH + body. GSM 7-bit packed after a UDH starts on a septet boundary: the fill bits
    pad the header to a multiple of 7 bits (3GPP TS 23.040 §9.2.3.24)."""
    if part.encoding == "gsm7" and packed:
        fill_bits = (7 - (len(udh) * 8) % 7) % 7
        return udh + pack_septets(part.payload, fill_bits)
    return udh + part.payload


def udh_to_sar(udh: bytes) -> tuple[bytes, dict[int, TlvValue]]:
    """Move a concatenation IE out of the UDH into SAR TLVs (SMPP 3.4 §5.3.2.22-24), keeping
    any other IE (a national shift table) in the UDH."""
    elements, _ = parse_udh(udh)
    tlvs: dict[int, TlvValue] = {}
    kept = []
    for element in elements:
        if element.iei == Iei.CONCAT_8 and len(element.data) == 3:
            ref, total, seq = element.data
        elif element.iei == Iei.CONCAT_16 and len(element.data) == 4:
            ref, total, seq = int.from_bytes(element.data[:2], "big"), *element.data[2:]
        else:
            kept.append(bytes((element.iei, len(element.data))) + element.data)
            continue
        tlvs = {
            Tlv.SAR_MSG_REF_NUM: ref,
            Tlv.SAR_TOTAL_SEGMENTS: total,
            Tlv.SAR_SEGMENT_SEQNUM: seq,
        }
    rest = b"".join(kept)
    return (bytes((len(rest),)) + rest if rest else b""), tlvs


RECEIPTS_FOR = ("all", "last")


class SmppConnector:
    """Options (all optional but host and port) are documented in connectors/smpp/README.md."""

    def __init__(self, *, name: str, options: Mapping[str, Any]) -> None:
        self.name = name
        self.binds_count = int(options.get("binds", 1))
        self.window = int(options.get("window", 10))
        if self.binds_count < 1 or self.window < 1:
            raise ValueError("binds and window must be at least 1")
        # trx: transceivers; tx+rx: `binds` transmitters and `receivers` receivers.
        self.bind_mode = bind_mode(options)
        self.receivers = int(options.get("receivers", 1)) if self.bind_mode == "tx+rx" else 0
        if self.bind_mode == "tx+rx" and self.receivers < 1:
            raise ValueError("receivers must be at least 1 with bind_mode tx+rx")
        # Most SMSCs take data_coding 0 as one septet per octet; packing is opt-in.
        self.packed = flag(options, "packed", False)
        self._data_codings = data_codings(options)
        self._addresses = AddressPlan.parse(options)
        # How long texts are cut for this upstream; intake segments accordingly.
        self.concatenation = Concatenation(options.get("concatenation", Concatenation.UDH8))
        # How this carrier's receipts write the id its submit_sm_resp gave (receipt_ids.py).
        self.receipt_id = ReceiptIdForm.parse(options.get("receipt_id", ReceiptIdForm.SAME))
        self._recent_ids = RecentIds() if self.receipt_id is ReceiptIdForm.AUTO else None
        # Whether the carrier sends a receipt for every part of a concatenated message or only
        # for the last one. Read by the composition root: with "last", the receipt correlator
        # applies a part's receipt to the earlier parts too (ReceiptCorrelator.cover_earlier_parts).
        self.receipts_for = str(options.get("receipts_for", "all")).lower()
        if self.receipts_for not in RECEIPTS_FOR:
            raise ValueError(f"receipts_for must be all or last, not {self.receipts_for!r}")
        self._settings = BindSettings(
            host=str(options["host"]),
            port=int(options["port"]),
            system_id=str(options.get("system_id", "")),
            password=str(options.get("password", "")),
            system_type=str(options.get("system_type", "")),
            window=self.window,
            response_timeout=float(options.get("response_timeout", 10.0)),
            enquire_link_interval=float(options.get("enquire_link_interval", 30.0)),
            reconnect_min=float(options.get("reconnect_min", 0.5)),
            reconnect_max=float(options.get("reconnect_max", 30.0)),
            tls=tls_context(options),
            rate=float(options.get("bind_rate", 0.0)),
        )
        if not 0 < self._settings.reconnect_min <= self._settings.reconnect_max:
            raise ValueError("reconnect_min and reconnect_max must be 0 < min <= max seconds")
        self._binds: list[Bind] = []
        self._events: ConnectorEvents | None = None
        self._next = 0
        self._receipts: GroupCommit[UpstreamReceipt, None] = GroupCommit(self._commit_receipts)

    @property
    def capacity(self) -> int:
        return self.binds_count * self.window

    async def start(self, events: ConnectorEvents) -> None:
        self._events = events
        kind = "transceiver" if self.bind_mode == "trx" else "transmitter"
        for i in range(self.binds_count):
            self._binds.append(
                Bind(f"{self.name}#{i}", self._settings, self._on_deliver, kind=kind)
            )
        for i in range(self.receivers):
            name = f"{self.name}#rx{i}"
            self._binds.append(Bind(name, self._settings, self._on_deliver, kind="receiver"))
        for bind in self._binds:
            bind.start()

    async def stop(self) -> None:
        await asyncio.gather(*(b.stop() for b in self._binds), return_exceptions=True)

    def health(self) -> list[BindHealth]:
        return [
            BindHealth(
                name=b.name,
                state=b.state,
                in_flight=b.in_flight,
                detail=b.detail,
                reconnects=b.reconnects,
            )
            for b in self._binds
        ]

    async def _ready_bind(self) -> Bind:
        """A bound bind with room in its window, round robin; waits while there is none
        (a carrier outage holds parts here, durable in the store, instead of failing them)."""
        while True:
            for offset in range(len(self._binds)):
                bind = self._binds[(self._next + offset) % len(self._binds)]
                if bind.ready:
                    self._next = (self._next + offset + 1) % len(self._binds)
                    return bind
            waiters = [asyncio.ensure_future(b.changed.wait()) for b in self._binds]
            for b in self._binds:
                b.changed.clear()
            try:
                await asyncio.wait(waiters, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waiters:
                    w.cancel()

    async def submit(self, part: PartRecord) -> SubmitOutcome:
        source, source_ton, source_npi = self._addresses.source(part.source)
        destination, dest_ton, dest_npi = self._addresses.destination(part.destination)
        udh: bytes = part.udh
        tlvs: dict[int, TlvValue] = {}
        if self.concatenation is Concatenation.SAR and udh:
            udh, tlvs = udh_to_sar(udh)
        short_message = render_short_message(udh, part, packed=self.packed)
        encoding = Encoding(part.encoding)
        if not udh and body_units(encoding, part.payload) > capacity(encoding, 0):
            # A whole long text for a message_payload upstream (SMPP 3.4 §5.3.2.32): intake
            # makes such a part only for a connector set to `payload`.
            tlvs[Tlv.MESSAGE_PAYLOAD] = short_message
            short_message = b""
        pdu = SubmitSm(
            source_addr_ton=source_ton,
            source_addr_npi=source_npi,
            source_addr=source,
            dest_addr_ton=dest_ton,
            dest_addr_npi=dest_npi,
            destination_addr=destination,
            esm_class=ESM_UDHI if udh else 0,
            registered_delivery=1 if part.registered_delivery else 0,
            data_coding=self._data_coding(part),
            short_message=short_message,
            tlvs=tlvs,
        )
        bind = await self._ready_bind()
        try:
            response = await bind.submit(pdu)
        except LocalProtocolError as exc:
            # The part cannot be put on the wire at all (too long, bad field): permanent.
            return SubmitOutcome(error=UpstreamError(str(exc), raw_code="encode", temporary=False))
        except SubmitNotAnsweredError as exc:
            return SubmitOutcome(
                error=UpstreamError(str(exc), raw_code="connection", temporary=True)
            )
        status = response.command_status
        if status == CommandStatus.ESME_ROK and isinstance(response, SubmitSmResp):
            if response.message_id.strip():
                return SubmitOutcome(upstream_id=self._given_id(response.message_id))
            return SubmitOutcome(
                error=UpstreamError("empty message_id", raw_code="no_id", temporary=False)
            )
        return SubmitOutcome(
            error=UpstreamError(
                f"upstream answered {status_name(status)}",
                raw_code=f"0x{status:08X}",
                temporary=is_temporary(status),
                throttled=status == CommandStatus.ESME_RTHROTTLED,
            )
        )

    def _data_coding(self, part: PartRecord) -> int:
        """This carrier's data_coding for the part's encoding (a national language shift table
        is announced in the UDH, TS 23.040 §9.2.3.24.15-16, so it changes nothing here)."""
        return carrier_data_coding(self._data_codings, part.encoding, part.data_coding)

    def _given_id(self, message_id: str) -> str:
        """The id to store for a part, from its submit_sm_resp."""
        given = submit_id(self.receipt_id, message_id)
        if self._recent_ids is not None:
            self._recent_ids.add(given)
        return given

    def _receipted_id(self, raw: str) -> str:
        """A receipt's id in the form `_given_id` stored, so the correlator matches it."""
        if self._recent_ids is not None:
            return self._recent_ids.resolve(raw)
        return receipt_id(self.receipt_id, raw)

    def _on_deliver(self, pdu: DeliverSm) -> DeliverOutcome:
        """A receipt is answered once its commit ends (the future of its group commit); an MO
        goes to `_on_mo`, which the bind runs as a task."""
        # An intermediate notification (§5.2.12 type 1000: ENROUTE, ACCEPTD) is a receipt too,
        # never an MO: read as one, it would reach an account as a message from the handset.
        if not (is_delivery_receipt(pdu.esm_class) or is_intermediate_notification(pdu.esm_class)):
            return self._on_mo(pdu)
        tlv_id = pdu.tlvs.get(Tlv.RECEIPTED_MESSAGE_ID)
        if isinstance(tlv_id, str) and tlv_id.strip() and pdu.tlvs.get(Tlv.MESSAGE_STATE) == 2:
            # DELIVERED by the TLVs: all a delivered part needs, without reading the text,
            # which is most of the cost of a receipt.
            return self._receipts.enqueue(
                UpstreamReceipt(
                    upstream_id=self._receipted_id(tlv_id),
                    status=Status.DELIVERED,
                    raw_state="DELIVERED",
                )
            )
        try:
            receipt = parse_receipt(pdu)
        except ReceiptParseError:
            log.warning("unparseable delivery receipt from %s; acknowledged and counted", self.name)
            return CommandStatus.ESME_ROK
        return self._receipts.enqueue(
            UpstreamReceipt(
                upstream_id=self._receipted_id(receipt.message_id),
                status=_RECEIPT_STATUS.get(receipt.state, Status.SUBMITTED),
                raw_state=receipt.state.name,
                error_code=receipt.error_code,
            )
        )

    async def _on_mo(self, pdu: DeliverSm) -> int:
        """An MO part: committed by the gateway before we acknowledge it."""
        assert self._events is not None
        payload = pdu.tlvs.get(Tlv.MESSAGE_PAYLOAD)
        body = pdu.short_message or (payload if isinstance(payload, bytes) else b"")
        try:
            part = decode_short_message(
                body,
                data_coding=pdu.data_coding,
                udhi=bool(pdu.esm_class & ESM_UDHI),
                packed=self.packed,
                sar=sar_of(pdu.tlvs),
            )
        except ValueError:
            log.warning("MO with a malformed user data header from %s; refused", self.name)
            return CommandStatus.ESME_RX_P_APPN  # permanent: resending will not fix it
        await self._events.inbound_received(
            self.name,
            [
                InboundPart(
                    source=from_smpp(pdu.source_addr, pdu.source_addr_ton),
                    destination=from_smpp(pdu.destination_addr, pdu.dest_addr_ton),
                    encoding=part.encoding.value,
                    data_coding=part.data_coding,
                    body=part.body,
                    connector=self.name,
                    received_at=time.time(),
                    concat=part.concat,
                    national_locking=part.national_locking,
                    national_single=part.national_single,
                )
            ],
        )
        return CommandStatus.ESME_ROK

    async def _commit_receipts(self, receipts: Sequence[UpstreamReceipt]) -> list[None]:
        assert self._events is not None
        await self._events.receipts_received(self.name, receipts)
        return [None] * len(receipts)
