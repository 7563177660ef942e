"""Command ids and the command status table."""

from __future__ import annotations

from gateway.smpp.codes import (
    STATUS_INFO,
    CommandId,
    CommandStatus,
    is_response,
    is_temporary,
    response_id,
    status_name,
)


def test_every_status_is_in_the_table_once() -> None:
    assert set(STATUS_INFO) == {int(s) for s in CommandStatus}
    for value, info in STATUS_INFO.items():
        assert info.value == value
        assert info.name == CommandStatus(value).name
        assert info.description


def test_temporary_statuses_are_exactly_the_retryable_ones() -> None:
    temporary = {CommandStatus(v) for v, i in STATUS_INFO.items() if i.temporary}
    assert temporary == {
        CommandStatus.ESME_RMSGQFUL,
        CommandStatus.ESME_RTHROTTLED,
        CommandStatus.ESME_RSYSERR,
        CommandStatus.ESME_RX_T_APPN,
    }
    assert is_temporary(0x58)
    assert not is_temporary(CommandStatus.ESME_RINVDSTADR)


def test_unknown_and_vendor_codes_are_permanent_and_named_in_hex() -> None:
    assert not is_temporary(0x0400)
    assert not is_temporary(0x12345)
    assert status_name(0x0400) == "0x00000400"
    assert status_name(0x58) == "ESME_RTHROTTLED"


def test_spec_values() -> None:
    # Spot checks against SMPP 3.4 tables 5-1 and 5-2.
    assert CommandId.DATA_SM == 0x103
    assert CommandId.GENERIC_NACK == 0x80000000
    assert CommandId.SUBMIT_MULTI_RESP == 0x80000021
    assert CommandStatus.ESME_RINVBNDSTS == 4
    assert CommandStatus.ESME_RX_R_APPN == 0x66
    assert CommandStatus.ESME_RINVOPTPARAMVAL == 0xC4


def test_every_request_has_its_response_id() -> None:
    for command in CommandId:
        if not is_response(command) and command not in (
            CommandId.OUTBIND,
            CommandId.ALERT_NOTIFICATION,
        ):
            assert response_id(command) in set(CommandId)
