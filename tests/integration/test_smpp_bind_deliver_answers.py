"""How the carrier bind answers a deliver_sm, for each kind of outcome its handler gives back:
a status (answered at once), the commit of a receipt (ESME_ROK once it succeeds, ESME_RX_T_APPN
when it fails, so the SMSC sends it again), or a coroutine (run as a task, answered with what it
returns). Against a minimal SMSC built on the sans-IO session, which records every answer."""

from __future__ import annotations

import asyncio
from typing import Any

from connectors.smpp.bind import Bind, BindSettings, DeliverOutcome
from gateway.smpp.codes import CommandStatus
from gateway.smpp.pdu import (
    BindTransceiver,
    BindTransceiverResp,
    DeliverSm,
    DeliverSmResp,
    Unbind,
    UnbindResp,
)
from gateway.smpp.session import RequestReceived, ResponseReceived, Role, SessionConfig
from gateway.smpp_io import SessionProtocol


class _Smsc(SessionProtocol):
    """Binds the first transceiver, then sends the deliver_sm it is given and records answers."""

    answers: dict[str, int]
    bound: asyncio.Event
    sent: dict[int, str]

    def __init__(self, answers: dict[str, int], bound: asyncio.Event, peers: list[_Smsc]) -> None:
        super().__init__(Role.SMSC, SessionConfig())
        self.answers, self.bound, self.sent = answers, bound, {}
        peers.append(self)

    def handle_event(self, event: Any) -> None:
        match event:
            case RequestReceived(pdu=BindTransceiver() as pdu):
                self.send(BindTransceiverResp(sequence_number=pdu.sequence_number, system_id="t"))
                self.bound.set()
            case RequestReceived(pdu=Unbind() as pdu):
                self.send(UnbindResp(sequence_number=pdu.sequence_number))
                self.close()
            case ResponseReceived(pdu=DeliverSmResp() as pdu):
                self.answers[self.sent[pdu.sequence_number]] = pdu.command_status

    def deliver(self, name: str) -> None:
        sent = self.send(DeliverSm(source_addr="1", destination_addr="2", short_message=b"x"))
        self.sent[sent.sequence_number] = name


async def test_each_outcome_is_answered_as_the_smsc_expects() -> None:
    loop = asyncio.get_running_loop()
    answers: dict[str, int] = {}
    bound = asyncio.Event()
    peers: list[_Smsc] = []
    server = await loop.create_server(lambda: _Smsc(answers, bound, peers), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    commits: dict[str, asyncio.Future[None]] = {}

    async def mo(status: int) -> int:
        await asyncio.sleep(0)
        return status

    def handle(pdu: DeliverSm) -> DeliverOutcome:
        name = peers[0].sent[pdu.sequence_number]
        if name == "status":
            return CommandStatus.ESME_RINVDSTADR
        if name == "coroutine":
            return mo(CommandStatus.ESME_ROK)
        if name == "broken":
            raise RuntimeError("handler bug")
        commits[name] = loop.create_future()
        return commits[name]

    settings = BindSettings(host="127.0.0.1", port=port, system_id="gw", password="pw")
    bind = Bind("carrier#0", settings, handle)
    bind.start()
    try:
        await asyncio.wait_for(bound.wait(), 5)
        for name in ("status", "coroutine", "broken", "committed", "failed", "cancelled"):
            peers[0].deliver(name)
        while len(commits) < 3:
            await asyncio.sleep(0.01)
        assert "committed" not in answers  # not answered before its commit ends
        commits["committed"].set_result(None)
        commits["failed"].set_exception(OSError("store down"))
        commits["cancelled"].cancel()
        async with asyncio.timeout(5):
            while len(answers) < 6:
                await asyncio.sleep(0.01)
    finally:
        await bind.stop()
        server.close()
    assert answers == {
        "status": CommandStatus.ESME_RINVDSTADR,
        "coroutine": CommandStatus.ESME_ROK,
        "broken": CommandStatus.ESME_RX_T_APPN,
        "committed": CommandStatus.ESME_ROK,
        "failed": CommandStatus.ESME_RX_T_APPN,
        "cancelled": CommandStatus.ESME_RX_T_APPN,
    }
