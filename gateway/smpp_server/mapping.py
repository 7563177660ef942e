"""Pure translation between SMPP PDUs from ESMEs and the gateway's terms.

SMPP times (SMPP 3.4 §7.1.1), addresses with TON/NPI (§5.2.5-6), registered_delivery (§5.2.17)
and our error codes to command_status. No I/O.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.domain import ClientError, GatewayError
from gateway.intake import MAX_SCHEDULE_AHEAD
from gateway.smpp.address import Ton
from gateway.smpp.codes import CommandStatus


class SmppFieldError(ClientError):
    """A field an ESME sent is invalid; carries the SMPP status to answer with."""

    code = "smpp.invalid_field"
    http_status = 422
    title = "Invalid SMPP field"

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def parse_smpp_time(value: str, *, now: float) -> float | None:
    """An SMPP 3.4 §7.1.1 time as seconds since the epoch; None for the empty string.

    Absolute: `YYMMDDhhmmsstnnp`, t tenths of a second, nn the offset from UTC in quarter hours,
    p `+` or `-`. Relative: `YYMMDDhhmmss000R`, a duration from now (a month counted as 30
    days and a year as 365, as SMSCs commonly do).
    """
    if not value:
        return None
    if len(value) != 16 or not value[:15].isdigit() or value[15] not in "+-R":
        raise SmppFieldError(f"bad SMPP time {value!r}", CommandStatus.ESME_RINVSCHED)
    yy, mo, dd, hh, mi, ss = (int(value[i : i + 2]) for i in range(0, 12, 2))
    if value[15] == "R":
        days = yy * 365 + mo * 30 + dd
        return now + timedelta(days=days, hours=hh, minutes=mi, seconds=ss).total_seconds()
    tenths, quarters = int(value[12]), int(value[13:15])
    try:
        local = datetime(2000 + yy, mo, dd, hh, mi, ss, tenths * 100_000, tzinfo=UTC)
    except ValueError:
        raise SmppFieldError(f"bad SMPP time {value!r}", CommandStatus.ESME_RINVSCHED) from None
    offset = timedelta(minutes=15 * quarters)
    # The time is local to the given offset: UTC = local - offset for "+", + offset for "-".
    utc = local - offset if value[15] == "+" else local + offset
    return utc.timestamp()


def parse_schedule(value: str, *, now: float) -> float | None:
    """A schedule_delivery_time as `parse_smpp_time` reads it, refused with ESME_RINVSCHED
    when more than 35 days ahead, as REST refuses such a send_at."""
    send_at = parse_smpp_time(value, now=now)
    if send_at is not None and send_at > now + MAX_SCHEDULE_AHEAD:
        raise SmppFieldError(
            "schedule_delivery_time is more than 35 days ahead", CommandStatus.ESME_RINVSCHED
        )
    return send_at


def format_smpp_time(epoch: float) -> str:
    """Absolute SMPP time in UTC (offset 00, `+`)."""
    t = datetime.fromtimestamp(epoch, UTC)
    return t.strftime("%y%m%d%H%M%S") + f"{t.microsecond // 100_000}00+"


def destination_e164(address: str, ton: int) -> str:
    """A destination address as our number format: international numbers get their `+`.

    Many ESMEs send international numbers with TON unknown (0); digits without a `+` are then
    taken as international too, since the gateway requires country codes anyway.
    """
    digits = address.strip()
    if digits.startswith("+"):
        return digits
    if ton not in (Ton.UNKNOWN, Ton.INTERNATIONAL):
        raise SmppFieldError(
            f"destination TON {ton} is not supported", CommandStatus.ESME_RINVDSTTON
        )
    return "+" + digits


# Our stable error codes to the SMPP status an ESME understands.
_STATUS_FOR_CODE = {
    "message.invalid_number": CommandStatus.ESME_RINVDSTADR,
    "message.invalid_sender": CommandStatus.ESME_RINVSRCADR,
    "message.empty_text": CommandStatus.ESME_RINVMSGLEN,
    "message.text_too_long": CommandStatus.ESME_RINVMSGLEN,
    # SMPP 3.4 has no status for a bad data_coding (5.0 added ESME_RINVDCS): submit failed.
    "message.not_found": CommandStatus.ESME_RINVMSGID,
    "gateway.queue_full": CommandStatus.ESME_RMSGQFUL,
    "gateway.shutting_down": CommandStatus.ESME_RX_T_APPN,
    "smpp.invalid_concatenation": CommandStatus.ESME_RINVESMCLASS,
    # A recipient who opted out is a permanent, policy refusal of a valid address: not
    # ESME_RINVDSTADR, which ESMEs read as "bad number" and may purge from their lists, but
    # ESME_RX_R_APPN (SMPP 3.4 §5.1.3: rejected by the application, do not retry).
    "recipient.opted_out": CommandStatus.ESME_RX_R_APPN,
    # Account limits: over the rate, slow down and resend; a sender the account or the
    # destination country does not allow is a bad source address. Quota, spend cap and
    # suspension are final for now: ESME_RSUBMITFAIL, the default for client errors.
    "account.rate_limited": CommandStatus.ESME_RTHROTTLED,
    "message.sender_not_allowed": CommandStatus.ESME_RINVSRCADR,
}


def status_for_error(error: GatewayError) -> int:
    if isinstance(error, SmppFieldError):
        return error.status
    status = _STATUS_FOR_CODE.get(error.code)
    if status is not None:
        return status
    return (
        CommandStatus.ESME_RSUBMITFAIL
        if isinstance(error, ClientError)
        else CommandStatus.ESME_RSYSERR
    )
