"""SMPP 3.4 command ids and command statuses, as data (SMPP 3.4 §5.1.2, §5.1.3)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from types import MappingProxyType
from typing import NamedTuple

__all__ = [
    "RESPONSE_BIT",
    "STATUS_INFO",
    "CommandId",
    "CommandStatus",
    "StatusInfo",
    "is_response",
    "is_temporary",
    "response_id",
    "status_name",
]

# SMPP 3.4 §5.1.2.1: a response's command_id is its request's with bit 31 set.
RESPONSE_BIT = 0x80000000


class CommandId(IntEnum):
    """Every SMPP 3.4 command id (SMPP 3.4 §5.1.2.1, table 5-1)."""

    GENERIC_NACK = 0x80000000
    BIND_RECEIVER = 0x00000001
    BIND_RECEIVER_RESP = 0x80000001
    BIND_TRANSMITTER = 0x00000002
    BIND_TRANSMITTER_RESP = 0x80000002
    QUERY_SM = 0x00000003
    QUERY_SM_RESP = 0x80000003
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    REPLACE_SM = 0x00000007
    REPLACE_SM_RESP = 0x80000007
    CANCEL_SM = 0x00000008
    CANCEL_SM_RESP = 0x80000008
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    OUTBIND = 0x0000000B
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015
    SUBMIT_MULTI = 0x00000021
    SUBMIT_MULTI_RESP = 0x80000021
    ALERT_NOTIFICATION = 0x00000102
    DATA_SM = 0x00000103
    DATA_SM_RESP = 0x80000103


def is_response(command_id: int) -> bool:
    """True for a response command id, generic_nack included."""
    return bool(command_id & RESPONSE_BIT)


def response_id(command_id: int) -> int:
    """The command id of the response to a request command id."""
    return command_id | RESPONSE_BIT


class CommandStatus(IntEnum):
    """Every SMPP 3.4 command_status value (SMPP 3.4 §5.1.3, table 5-2)."""

    ESME_ROK = 0x00000000
    ESME_RINVMSGLEN = 0x00000001
    ESME_RINVCMDLEN = 0x00000002
    ESME_RINVCMDID = 0x00000003
    ESME_RINVBNDSTS = 0x00000004
    ESME_RALYBND = 0x00000005
    ESME_RINVPRTFLG = 0x00000006
    ESME_RINVREGDLVFLG = 0x00000007
    ESME_RSYSERR = 0x00000008
    ESME_RINVSRCADR = 0x0000000A
    ESME_RINVDSTADR = 0x0000000B
    ESME_RINVMSGID = 0x0000000C
    ESME_RBINDFAIL = 0x0000000D
    ESME_RINVPASWD = 0x0000000E
    ESME_RINVSYSID = 0x0000000F
    ESME_RCANCELFAIL = 0x00000011
    ESME_RREPLACEFAIL = 0x00000013
    ESME_RMSGQFUL = 0x00000014
    ESME_RINVSERTYP = 0x00000015
    ESME_RINVNUMDESTS = 0x00000033
    ESME_RINVDLNAME = 0x00000034
    ESME_RINVDESTFLAG = 0x00000040
    ESME_RINVSUBREP = 0x00000042
    ESME_RINVESMCLASS = 0x00000043
    ESME_RCNTSUBDL = 0x00000044
    ESME_RSUBMITFAIL = 0x00000045
    ESME_RINVSRCTON = 0x00000048
    ESME_RINVSRCNPI = 0x00000049
    ESME_RINVDSTTON = 0x00000050
    ESME_RINVDSTNPI = 0x00000051
    ESME_RINVSYSTYP = 0x00000053
    ESME_RINVREPFLAG = 0x00000054
    ESME_RINVNUMMSGS = 0x00000055
    ESME_RTHROTTLED = 0x00000058
    ESME_RINVSCHED = 0x00000061
    ESME_RINVEXPIRY = 0x00000062
    ESME_RINVDFTMSGID = 0x00000063
    ESME_RX_T_APPN = 0x00000064
    ESME_RX_P_APPN = 0x00000065
    ESME_RX_R_APPN = 0x00000066
    ESME_RQUERYFAIL = 0x00000067
    ESME_RINVOPTPARSTREAM = 0x000000C0
    ESME_ROPTPARNOTALLWD = 0x000000C1
    ESME_RINVPARLEN = 0x000000C2
    ESME_RMISSINGOPTPARAM = 0x000000C3
    ESME_RINVOPTPARAMVAL = 0x000000C4
    ESME_RDELIVERYFAILURE = 0x000000FE
    ESME_RUNKNOWNERR = 0x000000FF


class StatusInfo(NamedTuple):
    """One row of the command status table: retry logic reads `temporary`."""

    name: str
    value: int
    description: str
    temporary: bool


# (status, description, temporary). Descriptions follow SMPP 3.4 §5.1.3. `temporary` means
# "the same PDU may succeed if retried later": the SMSC is busy (RMSGQFUL, RTHROTTLED), failed
# internally (RSYSERR), or the receiving application asked for a retry (RX_T_APPN, §5.1.3
# "ESME Receiver Temporary App Error Code"). Everything else is a property of the PDU itself.
_STATUS_ROWS: tuple[tuple[CommandStatus, str, bool], ...] = (
    (CommandStatus.ESME_ROK, "No Error", False),
    (CommandStatus.ESME_RINVMSGLEN, "Message Length is invalid", False),
    (CommandStatus.ESME_RINVCMDLEN, "Command Length is invalid", False),
    (CommandStatus.ESME_RINVCMDID, "Invalid Command ID", False),
    (CommandStatus.ESME_RINVBNDSTS, "Incorrect BIND Status for given command", False),
    (CommandStatus.ESME_RALYBND, "ESME Already in Bound State", False),
    (CommandStatus.ESME_RINVPRTFLG, "Invalid Priority Flag", False),
    (CommandStatus.ESME_RINVREGDLVFLG, "Invalid Registered Delivery Flag", False),
    (CommandStatus.ESME_RSYSERR, "System Error", True),
    (CommandStatus.ESME_RINVSRCADR, "Invalid Source Address", False),
    (CommandStatus.ESME_RINVDSTADR, "Invalid Dest Addr", False),
    (CommandStatus.ESME_RINVMSGID, "Message ID is invalid", False),
    (CommandStatus.ESME_RBINDFAIL, "Bind Failed", False),
    (CommandStatus.ESME_RINVPASWD, "Invalid Password", False),
    (CommandStatus.ESME_RINVSYSID, "Invalid System ID", False),
    (CommandStatus.ESME_RCANCELFAIL, "Cancel SM Failed", False),
    (CommandStatus.ESME_RREPLACEFAIL, "Replace SM Failed", False),
    (CommandStatus.ESME_RMSGQFUL, "Message Queue Full", True),
    (CommandStatus.ESME_RINVSERTYP, "Invalid Service Type", False),
    (CommandStatus.ESME_RINVNUMDESTS, "Invalid number of destinations", False),
    (CommandStatus.ESME_RINVDLNAME, "Invalid Distribution List name", False),
    (CommandStatus.ESME_RINVDESTFLAG, "Destination flag is invalid (submit_multi)", False),
    (CommandStatus.ESME_RINVSUBREP, "Invalid 'submit with replace' request", False),
    (CommandStatus.ESME_RINVESMCLASS, "Invalid esm_class field data", False),
    (CommandStatus.ESME_RCNTSUBDL, "Cannot Submit to Distribution List", False),
    (CommandStatus.ESME_RSUBMITFAIL, "submit_sm or submit_multi failed", False),
    (CommandStatus.ESME_RINVSRCTON, "Invalid Source address TON", False),
    (CommandStatus.ESME_RINVSRCNPI, "Invalid Source address NPI", False),
    (CommandStatus.ESME_RINVDSTTON, "Invalid Destination address TON", False),
    (CommandStatus.ESME_RINVDSTNPI, "Invalid Destination address NPI", False),
    (CommandStatus.ESME_RINVSYSTYP, "Invalid system_type field", False),
    (CommandStatus.ESME_RINVREPFLAG, "Invalid replace_if_present flag", False),
    (CommandStatus.ESME_RINVNUMMSGS, "Invalid number of messages", False),
    (
        CommandStatus.ESME_RTHROTTLED,
        "Throttling error (ESME has exceeded allowed message limits)",
        True,
    ),
    (CommandStatus.ESME_RINVSCHED, "Invalid Scheduled Delivery Time", False),
    (CommandStatus.ESME_RINVEXPIRY, "Invalid message validity period (Expiry time)", False),
    (CommandStatus.ESME_RINVDFTMSGID, "Predefined Message Invalid or Not Found", False),
    (CommandStatus.ESME_RX_T_APPN, "ESME Receiver Temporary App Error Code", True),
    (CommandStatus.ESME_RX_P_APPN, "ESME Receiver Permanent App Error Code", False),
    (CommandStatus.ESME_RX_R_APPN, "ESME Receiver Reject Message Error Code", False),
    (CommandStatus.ESME_RQUERYFAIL, "query_sm request failed", False),
    (CommandStatus.ESME_RINVOPTPARSTREAM, "Error in the optional part of the PDU Body", False),
    (CommandStatus.ESME_ROPTPARNOTALLWD, "Optional Parameter not allowed", False),
    (CommandStatus.ESME_RINVPARLEN, "Invalid Parameter Length", False),
    (CommandStatus.ESME_RMISSINGOPTPARAM, "Expected Optional Parameter missing", False),
    (CommandStatus.ESME_RINVOPTPARAMVAL, "Invalid Optional Parameter Value", False),
    (CommandStatus.ESME_RDELIVERYFAILURE, "Delivery Failure (used for data_sm_resp)", False),
    (CommandStatus.ESME_RUNKNOWNERR, "Unknown Error", False),
)

STATUS_INFO: Mapping[int, StatusInfo] = MappingProxyType(
    {
        int(status): StatusInfo(status.name, int(status), description, temporary)
        for status, description, temporary in _STATUS_ROWS
    }
)

# SMPP 3.4 §5.1.3: 0x400-0x4FF are reserved for SMSC vendor specific errors. Their meaning is
# unknown to us, so they are permanent unless the carrier's connector documents otherwise.
VENDOR_SPECIFIC = range(0x400, 0x500)


def is_temporary(status: int) -> bool:
    """Whether a PDU refused with this status may succeed if sent again later.

    Unknown and vendor-specific codes are permanent: retrying a request the peer rejects for a
    reason we cannot name would only repeat the rejection.
    """
    info = STATUS_INFO.get(status)
    return info.temporary if info is not None else False


def status_name(status: int) -> str:
    """The spec name of a status (``ESME_RTHROTTLED``), or ``0x%08X`` for an unknown one."""
    info = STATUS_INFO.get(status)
    return info.name if info is not None else f"0x{status:08X}"
