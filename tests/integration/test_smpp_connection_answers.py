"""An ESME connection's submits are answered from a callback, with no task per PDU; these check
what the tasks used to guarantee, against a server whose commits end only when the test says:
an unbind (the ESME's or ours at shutdown) waits for every submit in progress, and a submit
whose start raises or whose commit fails still gets its response."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from gateway.domain import SmppCredential
from gateway.domain.errors import QueueFull
from gateway.smpp.codes import CommandStatus
from gateway.smpp.pdu import BindTransceiver, DataSm, Pdu, SubmitSm, SubmitSmResp, Unbind
from gateway.smpp_server.connection import EsmeConnection
from gateway.smpp_server.server import Answer, SmppServerSettings
from tests.esme_client import TestEsme, submit

CREDENTIAL = SmppCredential(system_id="demo", account_id="a", password_hash="")


@dataclass
class HeldServer:
    """What EsmeConnection needs of SmppServer; submits wait in `held` until answered."""

    settings: SmppServerSettings = field(default_factory=SmppServerSettings)
    held: list[tuple[SubmitSm | DataSm, Answer]] = field(default_factory=list)
    refuse_with: Exception | None = None
    answer_at_once: Pdu | None = None

    def connection_opened(self, conn: EsmeConnection) -> bool:
        return True

    def connection_closed(self, conn: EsmeConnection, undelivered: object) -> None:
        pass

    def connection_dropped(self, reason: str) -> None:
        pass

    def request_received(self, pdu: Pdu) -> None:
        pass

    def response_sent(self, pdu: Pdu) -> None:
        pass

    def metrics_throttled(self) -> None:
        pass

    def bound(self, conn: EsmeConnection) -> None:
        pass

    async def authenticate(
        self, conn: EsmeConnection, pdu: BindTransceiver
    ) -> tuple[int, SmppCredential]:
        return CommandStatus.ESME_ROK, CREDENTIAL

    def start_submit(
        self, credential: SmppCredential, pdu: SubmitSm | DataSm, answer: Answer
    ) -> None:
        if self.refuse_with is not None:
            raise self.refuse_with
        if self.answer_at_once is not None:
            answer(self.answer_at_once)
            return
        self.held.append((pdu, answer))

    def answer_all(self, outcome: BaseException | None = None, *, first: int = 0) -> None:
        """Answer what is held (the first `first` only, if given), with `outcome` or OK."""
        count = first or len(self.held)
        held, self.held = self.held[:count], self.held[count:]
        for pdu, answer in held:
            answer(outcome or SubmitSmResp(sequence_number=pdu.sequence_number, message_id="m1"))


@pytest.fixture
async def served() -> AsyncIterator[tuple[HeldServer, TestEsme, list[EsmeConnection]]]:
    server = HeldServer()
    connections: list[EsmeConnection] = []

    def connection() -> EsmeConnection:
        conn = EsmeConnection(server)  # type: ignore[arg-type]
        connections.append(conn)
        return conn

    listener = await asyncio.get_running_loop().create_server(connection, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    esme = await TestEsme.connect(port)
    assert await esme.bind("trx", password="x") == CommandStatus.ESME_ROK
    yield server, esme, connections
    await esme.close()
    listener.close()


async def _answered(esme: TestEsme) -> list[Pdu]:
    """What the server sends until it is quiet for 0.3 s or closes."""
    got = []
    with contextlib.suppress(TimeoutError):
        while (pdu := await esme.read(timeout=0.3)) is not None:
            got.append(pdu)
    return got


async def test_the_esmes_unbind_waits_for_the_submits_in_progress(
    served: tuple[HeldServer, TestEsme, list[EsmeConnection]],
) -> None:
    server, esme, _ = served
    sent = [esme.send(submit(f"m{i}".encode())) for i in range(5)]
    unbind = esme.send(Unbind())
    assert await _answered(esme) == []  # nothing answered while the commits last
    server.answer_all()
    answers = await _answered(esme)
    assert [p.sequence_number for p in answers] == [p.sequence_number for p in sent] + [
        unbind.sequence_number
    ]


async def test_a_graceful_stop_waits_for_the_submits_in_progress(
    served: tuple[HeldServer, TestEsme, list[EsmeConnection]],
) -> None:
    server, esme, connections = served
    sent = esme.send(submit(b"last"))
    await asyncio.sleep(0.1)
    stopping = asyncio.create_task(connections[0].unbind(timeout=5))
    assert await _answered(esme) == []
    server.answer_all()
    answered = await esme.wait_for(lambda p: p.sequence_number == sent.sequence_number)
    assert answered.command_status == CommandStatus.ESME_ROK
    assert isinstance(await esme.wait_for(lambda p: isinstance(p, Unbind)), Unbind)
    stopping.cancel()


async def test_refusals_and_failed_commits_are_answered_and_free_the_window(
    served: tuple[HeldServer, TestEsme, list[EsmeConnection]],
) -> None:
    server, esme, connections = served
    server.refuse_with = QueueFull("too many")
    refused = await esme.request(submit(b"refused"))
    assert refused.command_status == CommandStatus.ESME_RMSGQFUL
    server.refuse_with = None
    failing = esme.send(submit(b"fails"))
    await asyncio.sleep(0.1)
    server.answer_all(RuntimeError("the store went away"))
    failed = await esme.wait_for(lambda p: p.sequence_number == failing.sequence_number)
    assert failed.command_status == CommandStatus.ESME_RSYSERR
    assert connections[0].in_flight == 0  # every request left the window


async def test_an_answer_that_cannot_be_sent_leaves_the_window_once_and_closes(
    served: tuple[HeldServer, TestEsme, list[EsmeConnection]],
) -> None:
    """A refusal answered at once whose send breaks the protocol (here: an answer to no
    request) closes the connection, as before, and is not answered a second time."""
    server, esme, connections = served
    server.answer_at_once = SubmitSmResp(sequence_number=999_999, message_id="")
    esme.send(submit(b"x"))
    assert await _answered(esme) == []
    assert not connections[0].is_open
    assert connections[0].in_flight == 0


async def test_an_unbind_waits_for_the_requests_before_it_not_those_after(
    served: tuple[HeldServer, TestEsme, list[EsmeConnection]],
) -> None:
    """An ESME that keeps its window full (a bind being revoked, say) cannot hold off our
    unbind: it waits for what was in progress when it began."""
    server, esme, connections = served
    first = esme.send(submit(b"before"))
    await asyncio.sleep(0.1)
    stopping = asyncio.create_task(connections[0].unbind(timeout=5))
    await asyncio.sleep(0.1)
    esme.send(submit(b"after"))
    await asyncio.sleep(0.1)
    server.answer_all(first=1)
    answered = await esme.wait_for(lambda p: p.sequence_number == first.sequence_number)
    assert answered.command_status == CommandStatus.ESME_ROK
    unbind = await esme.wait_for(lambda p: isinstance(p, Unbind), timeout=2)
    assert isinstance(unbind, Unbind) and len(server.held) == 1  # "after" still in progress
    stopping.cancel()
