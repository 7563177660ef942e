"""Crash-safety harness: load over REST and SMPP, `kill -9` at random moments, restart, check.

It proves invariant 1 of ARCHITECTURE.md from the outside: every message the gateway
acknowledged (a REST 202, a submit_sm_resp with status 0) reaches a final status after any
number of SIGKILLs and restarts, and every receipt an ESME asked for arrives, possibly on a
later bind.

The pieces, all on loopback:

- the gateway: a real `python -m gateway run` (`tests.e2e.harness.GatewayProcess`), restarted
  after each kill with the same ports, node id, keys and store, so it takes its own queued
  parts back at once;
- the upstream: our SMSC simulator run inside this process (`RecordingSmsc`), which counts what
  reaches the carrier and, like a real SMSC, keeps a delivery receipt until an ESME has answered
  its deliver_sm (the stock simulator drops a receipt when no receiver is bound, which would
  blame the gateway for the carrier's loss during every restart);
- the load: REST clients posting `/v1/messages` and one SMPP ESME (`TestEsme`) bound as
  transceiver, which reconnects and rebinds after each kill and resends the submits that were
  never answered (as an ESME must);
- the killer: SIGKILL at random moments spread over the load, then restart and wait for
  `/readyz`;
- the webhook receiver: a loopback HTTP server (`tests.integration.webhook_receiver`) set as
  the account's webhook before the load (`GATEWAY_WEBHOOK_ALLOW_PRIVATE` lets the gateway post
  to loopback). At the end every acknowledged message must have had each of its status events
  received at least once: per message the distinct events, in sequence order, form one unbroken
  forward chain (each event's `previous_status` is the status of the one before, ranks only
  grow, the first starts from accepted/scheduled/queued) that ends at the message's final
  status. A lost event breaks the chain or leaves it short of the final status. Duplicate
  deliveries (at-least-once after a kill) are counted and reported, never failed on.

Every text carries tags (`<R000042.1.0>`: channel, number, segment, attempt) in each segment so
that a submit seen by the carrier maps back to one acknowledged part. Duplicates are measured
twice and reported, never failed on (at-least-once towards the carrier is allowed when the
gateway died before it could commit the carrier's answer): the carrier's count of submits minus
the parts, and the sum over parts of `attempts - 1` from `GET /v1/messages/{id}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from gateway.domain.status import Status
from gateway.simulator import Simulator, SimulatorConfig, _SmscConnection
from gateway.smpp.pdu import DeliverSm, Pdu, SubmitSm, SubmitSmResp
from gateway.smpp.session import Event, RequestReceived
from gateway.smpp.tlv import Tlv
from gateway.text import ESM_CLASS_UDHI, decode_short_message
from tests.e2e.harness import GatewayProcess
from tests.esme_client import TestEsme, submit
from tests.integration.webhook_receiver import WebhookReceiver

DEST = "+4915112345678"
SMPP_PASSWORD = "crash123"  # SMPP 3.4: at most 8 characters
UPSTREAM_SYSTEM_ID = "gateway"
UPSTREAM_PASSWORD = "secret"
SEGMENT = 153  # GSM 7-bit septets per part of a concatenated message (3GPP TS 23.040 §9.2.3.24.1)
# "<" and ">" are in the GSM 7-bit default alphabet; "[" and "]" would cost an escape each.
TAG = re.compile(r"<([RS]\d{6}\.\d\.\d+)>")
PART_SUFFIX = re.compile(r"-\d+$")  # "<message id>-N": part N of a long message sent in parts
ESM_CLASS_RECEIPT = 0x04  # SMPP 3.4 §5.2.12: SMSC delivery receipt


# -- the upstream ----------------------------------------------------------------------------


class _RecordingConnection(_SmscConnection):
    """The simulator's SMSC connection, plus: submits counted by tag. (Receipts are kept until
    answered and resent on the next receiver bind by the simulator itself.)"""

    sim: RecordingSmsc

    def handle_event(self, event: Event) -> None:
        if isinstance(event, RequestReceived) and isinstance(event.pdu, SubmitSm):
            before = self.sim.stats.submits
            super().handle_event(event)
            if self.sim.stats.submits > before:
                self.sim.record_submit(event.pdu)
            return
        super().handle_event(event)


class RecordingSmsc(Simulator):
    def __init__(self, config: SimulatorConfig) -> None:
        super().__init__(config)
        self.submits_by_tag: Counter[str] = Counter()
        self.submit_times: dict[str, list[float]] = {}  # tag -> when each submit arrived
        self.untagged_submits = 0

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _RecordingConnection(self), self.config.host, self.config.port
        )
        self.port = self._server.sockets[0].getsockname()[1]

    def record_submit(self, pdu: SubmitSm) -> None:
        try:
            text = decode_short_message(
                pdu.short_message,
                data_coding=pdu.data_coding,
                udhi=bool(pdu.esm_class & ESM_CLASS_UDHI),
                packed=False,
            ).text()
        except ValueError:
            text = None
        tags = TAG.findall(text or "")
        if not tags:
            self.untagged_submits += 1
        for tag in tags:
            self.submits_by_tag[tag] += 1
            self.submit_times.setdefault(tag, []).append(time.monotonic())


# -- configuration and results ---------------------------------------------------------------


@dataclass
class CrashConfig:
    tmp: Path
    store_env: dict[str, str]  # GATEWAY_DATABASE_URL (+ GATEWAY_DATABASE_SCHEMA)
    kills: int = 3
    seconds: float = 15.0  # the load phase; kills are spread over it
    rate: float = 10.0  # submissions per second, REST and SMPP together
    smpp_share: float = 0.5
    multipart_share: float = 0.2
    rest_workers: int = 8
    smpp_window: int = 20
    settle_timeout: float = 60.0  # after the load, the longest wait for final states and receipts
    seed: int | None = None
    gateway_log_level: str = "INFO"  # DEBUG for more evidence around the kills
    webhooks: bool = True  # subscribe a loopback receiver and check every status event
    log: Any = None  # a callable taking one line, for progress


@dataclass
class KillRecord:
    index: int
    at: float  # seconds since the start of the run
    log_offset: int  # the gateway log's size just before the kill
    restart_offset: int = 0  # ... just after the restarted gateway was ready
    restart_seconds: float = 0.0
    took_load: bool = True  # each loaded channel had an acknowledgement since the last start


@dataclass
class Acked:
    channel: str  # "rest" | "smpp"
    ack_id: str  # the 202 id, or the submit_sm_resp message_id
    message_id: str  # the id to GET
    tags: list[str]  # the carrier-side tags of its parts
    at: float  # seconds since the start, when acknowledged
    receipt: bool


@dataclass
class CrashReport:
    store: str
    seed: int
    kills: list[KillRecord] = field(default_factory=list)
    acked: list[Acked] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)
    messages_checked: int = 0
    parts_checked: int = 0
    not_final: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> GET body
    missing: dict[str, str] = field(default_factory=dict)  # id -> GET answer
    duplicates_attempts: int = 0  # sum of (attempts - 1) over parts
    duplicates_upstream: int = 0  # carrier submits - parts, over acknowledged parts
    duplicate_details: list[dict[str, Any]] = field(default_factory=list)
    never_at_carrier: list[str] = field(default_factory=list)  # tags of acked parts never sent
    sent_but_not_acked: int = 0  # carrier submits of parts whose acknowledgement was lost
    receipts_requested: int = 0
    receipts_received: int = 0
    receipts_missing: list[str] = field(default_factory=list)
    upstream_submits: int = 0
    webhook_deliveries: int = 0  # POSTs the receiver acknowledged (status events, all messages)
    webhook_events: int = 0  # distinct status events of acknowledged messages (by event id)
    webhook_duplicates: int = 0  # deliveries of an event id already received
    webhook_messages_checked: int = 0  # acknowledged messages whose event chain was checked
    webhook_problems: dict[str, str] = field(default_factory=dict)  # message id -> what is wrong
    last_final: tuple[str, float] = ("", 0.0)  # the message final last, seconds after the load
    last_receipt: tuple[str, float] = ("", 0.0)  # the receipt that came last, seconds after ack
    last_receipt_kill: tuple[int, float] = (0, 0.0)  # the kill after that ack, seconds after it
    seconds_load: float = 0.0
    seconds_settle: float = 0.0
    seconds_total: float = 0.0
    evidence: list[str] = field(default_factory=list)
    gateway_log: str = ""

    @property
    def ok(self) -> bool:
        return not (
            self.not_final or self.missing or self.receipts_missing or self.webhook_problems
        )

    def summary(self) -> str:
        rest = sum(1 for a in self.acked if a.channel == "rest")
        answered = [
            d["answered_before_kill_s"]
            for d in self.duplicate_details
            if d["answered_before_kill_s"] is not None
        ]
        return "\n".join(
            [
                f"store:                 {self.store} (seed {self.seed})",
                f"kills survived:        {len(self.kills)}"
                f" (restart median {_median([k.restart_seconds for k in self.kills]):.2f}s)",
                f"messages acknowledged: {len(self.acked)}"
                f" (REST {rest}, SMPP {len(self.acked) - rest}); refused/unanswered"
                f" {dict(self.refused)}",
                f"messages checked:      {self.messages_checked} ({self.parts_checked} parts);"
                f" not final {len(self.not_final)}, missing {len(self.missing)}",
                f"duplicates resent:     {self.duplicates_attempts} by attempts,"
                f" {self.duplicates_upstream} by carrier count"
                f" ({self.upstream_submits} carrier submits; {self.sent_but_not_acked} more"
                f" for submissions whose acknowledgement was lost)",
                f"receipts checked:      {self.receipts_received}/{self.receipts_requested}"
                f" arrived; missing {len(self.receipts_missing)}; slowest"
                f" {self.last_receipt[0]} {self.last_receipt[1]:.1f}s after its ack"
                f" (kill #{self.last_receipt_kill[0]} {self.last_receipt_kill[1]:.1f}s after"
                " the ack)",
                f"webhook events:        {self.webhook_events} distinct for"
                f" {self.webhook_messages_checked} messages ({self.webhook_deliveries} POSTs,"
                f" {self.webhook_duplicates} duplicates); messages with a lost or contradicting"
                f" event {len(self.webhook_problems)}",
                f"duplicates' answer-to-kill: max {max(answered, default=0):.3f}s,"
                f" {sum(1 for a in answered if a > 1.0)} answered more than 1 s before the kill",
                f"time:                  load {self.seconds_load:.1f}s, settle"
                f" {self.seconds_settle:.1f}s (last final: {self.last_final[0]}"
                f" {self.last_final[1]:.1f}s after the load), total {self.seconds_total:.1f}s",
            ]
        )

    def failure_text(self) -> str:
        return self.summary() + "\n\n" + "\n\n".join(self.evidence)


def _median(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


# -- texts -----------------------------------------------------------------------------------


def _text(channel: str, number: int, segments: int, attempt: int = 0) -> tuple[str, list[str]]:
    """A GSM 7-bit text of `segments` parts, each part carrying its own tag."""
    if segments == 1:
        tag = f"{channel}{number:06d}.1.{attempt}"
        return f"<{tag}> crash test", [tag]
    blocks, tags = [], []
    for seq in range(1, segments + 1):
        tag = f"{channel}{number:06d}.{seq}.{attempt}"
        tags.append(tag)
        blocks.append(f"<{tag}> ".ljust(SEGMENT, "x"))
    return "".join(blocks)[: SEGMENT * segments - 10], tags


# -- the run ---------------------------------------------------------------------------------


class _Run:
    def __init__(self, config: CrashConfig) -> None:
        self.config = config
        self.seed = config.seed if config.seed is not None else random.randrange(1 << 30)
        self.rng = random.Random(self.seed)
        store = (
            "postgres"
            if config.store_env["GATEWAY_DATABASE_URL"].startswith("postgres")
            else "sqlite"
        )
        self.report = CrashReport(store=store, seed=self.seed)
        self.t0 = time.monotonic()
        self.stop_load = asyncio.Event()
        self.gateway_up = asyncio.Event()
        self.receipts_deadline = float("inf")  # until the load ends
        self.receipts: dict[str, float] = {}  # receipted id -> when it arrived (run seconds)
        self.rest_numbers = iter(range(1, 1_000_000))
        self.smpp_numbers = iter(range(1, 1_000_000))
        self.upstream = RecordingSmsc(
            SimulatorConfig(
                port=0,
                system_id=UPSTREAM_SYSTEM_ID,
                password=UPSTREAM_PASSWORD,
                receipt_delay=0.05,
            )
        )
        self.gw: GatewayProcess | None = None
        self.hooks = WebhookReceiver()

    def now(self) -> float:
        return time.monotonic() - self.t0

    def say(self, line: str) -> None:
        if self.config.log is not None:
            self.config.log(f"[{self.now():7.2f}s] {line}")

    # -- gateway lifecycle

    async def start_gateway(self) -> None:
        env = dict(self.config.store_env)
        db_url = env.pop("GATEWAY_DATABASE_URL")
        upstream = (
            f"smpp://{UPSTREAM_SYSTEM_ID}:{UPSTREAM_PASSWORD}@127.0.0.1:{self.upstream.port}"
            f"?binds=1&window=50"
        )
        self.gw = GatewayProcess(
            self.config.tmp,
            database_url=db_url,
            GATEWAY_UPSTREAM=upstream,
            GATEWAY_DEMO_SMPP_PASSWORD=SMPP_PASSWORD,
            GATEWAY_LOG_LEVEL=self.config.gateway_log_level,
            GATEWAY_WEBHOOK_ALLOW_PRIVATE="true" if self.config.webhooks else "false",
            **env,
        )
        self.gw.start()
        await asyncio.to_thread(self.gw.wait_ready, 60)
        if self.config.webhooks:
            await self.hooks.start()
            async with httpx.AsyncClient(
                base_url=self.gw.url, headers={"Authorization": f"Bearer {self.gw.key}"}
            ) as client:
                response = await client.put("/v1/webhooks", json={"url": self.hooks.url})
            assert response.status_code in (200, 201), response.text
        self.gateway_up.set()

    def log_size(self) -> int:
        assert self.gw is not None
        try:
            return self.gw.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    async def killer(self) -> None:
        """SIGKILL at random moments over the load phase, restarting after each one."""
        assert self.gw is not None
        gw = self.gw
        moments = sorted(
            self.rng.uniform(0.5, self.config.seconds - 0.5) for _ in range(self.config.kills)
        )
        for index, moment in enumerate(moments, 1):
            took_load = await self.load_resumed()
            # A kill that fell due during the previous restart comes a random moment after it.
            delay = max(moment - self.now(), self.rng.uniform(0.05, 0.6))
            await asyncio.sleep(delay)
            record = KillRecord(index=index, at=self.now(), log_offset=self.log_size())
            record.took_load = took_load
            self.gateway_up.clear()
            await asyncio.to_thread(gw.kill)
            self.say(f"kill {index}/{len(moments)}")
            started = time.monotonic()
            gw.start()  # the same object: same ports, node id, keys and store
            await asyncio.to_thread(gw.wait_ready, 60)
            record.restart_seconds = time.monotonic() - started
            record.restart_offset = self.log_size()
            self.report.kills.append(record)
            self.gateway_up.set()

    async def load_resumed(self, timeout: float = 10.0) -> bool:
        """Until each channel with a share of the load has had a submission acknowledged
        since the gateway (re)started, or `timeout`. On a loaded machine a restart can take
        longer than the gap between two kill moments; without this wait the kills pile onto
        start-ups and the run tests a gateway that never took load. False: `timeout` came
        first."""
        start = len(self.report.acked)
        channels = {"smpp"} if self.config.smpp_share > 0 else set()
        if self.config.smpp_share < 1:
            channels.add("rest")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if channels <= {a.channel for a in self.report.acked[start:]}:
                return True
            await asyncio.sleep(0.05)
        self.say(
            f"no acknowledgement on each of {sorted(channels)} {timeout:.0f} s after the start"
        )
        return False

    # -- load

    async def pace(self, share: float, count: int) -> None:
        """Sleep until the `count`-th submission of a channel with `share` of the rate is due."""
        rate = max(self.config.rate * share, 0.001)
        due = count / rate
        await asyncio.sleep(max(0.0, due - self.now()))

    async def rest_load(self) -> None:
        assert self.gw is not None
        share = 1.0 - self.config.smpp_share
        if share <= 0:
            return
        counter = iter(range(1_000_000))

        async def worker(client: httpx.AsyncClient) -> None:
            while not self.stop_load.is_set():
                await self.pace(share, next(counter))
                if self.stop_load.is_set():
                    return
                number = next(self.rest_numbers)
                segments = 2 if self.rng.random() < self.config.multipart_share else 1
                text, tags = _text("R", number, segments)
                try:
                    response = await client.post(
                        "/v1/messages", json={"to": DEST, "from": "Acme", "text": text}
                    )
                except httpx.HTTPError as exc:
                    self.report.refused[f"rest {type(exc).__name__}"] += 1
                    await asyncio.sleep(0.05)
                    continue
                if response.status_code == 202:
                    body = response.json()
                    self.report.acked.append(
                        Acked("rest", body["id"], body["id"], tags, self.now(), receipt=False)
                    )
                else:
                    self.report.refused[f"rest {response.status_code}"] += 1

        async with httpx.AsyncClient(
            base_url=self.gw.url,
            headers={"Authorization": f"Bearer {self.gw.key}"},
            timeout=10,
            limits=httpx.Limits(max_connections=self.config.rest_workers),
        ) as client:
            await asyncio.gather(*(worker(client) for _ in range(self.config.rest_workers)))

    async def smpp_load(self) -> None:
        """One ESME: bind, submit with a window, collect receipts; after a kill reconnect,
        rebind and resend what was never answered. Keeps reading receipts after the load
        until every requested receipt is in or `receipts_deadline` (monotonic, set when the
        load ends) passes."""
        assert self.gw is not None
        port = int(self.gw.env["GATEWAY_SMPP_PORT"])
        share = self.config.smpp_share
        count = 0
        # Submits to send first: the ones a kill left unanswered (same tags, next attempt).
        resend: list[tuple[SubmitSm, str, list[str], int]] = []
        while time.monotonic() < self.receipts_deadline:
            if self.stop_load.is_set() and self._receipts_complete():
                return
            await self.gateway_up.wait()
            try:
                esme = await TestEsme.connect(port)
                status = await esme.bind("trx", password=SMPP_PASSWORD)
            except (OSError, AssertionError, TimeoutError) as exc:
                self.report.refused[f"smpp bind {type(exc).__name__}"] += 1
                await asyncio.sleep(0.1)
                continue
            if status != 0:
                self.report.refused[f"smpp bind status {status:#x}"] += 1
                await esme.close()
                await asyncio.sleep(0.2)
                continue
            outstanding: dict[int, tuple[SubmitSm, str, list[str], int]] = {}
            window = asyncio.Semaphore(self.config.smpp_window)
            closed = asyncio.Event()

            async def reader(
                esme: TestEsme,
                outstanding: dict[int, tuple[SubmitSm, str, list[str], int]],
                window: asyncio.Semaphore,
                closed: asyncio.Event,
            ) -> None:
                try:
                    while time.monotonic() < self.receipts_deadline:
                        try:
                            pdu = await esme.read(timeout=0.5)
                        except TimeoutError:
                            if self.stop_load.is_set() and self._receipts_complete():
                                return
                            continue
                        if pdu is None:
                            return
                        self._on_pdu(pdu, outstanding, window)
                except (OSError, AssertionError):
                    return
                finally:
                    closed.set()

            read_task = asyncio.create_task(reader(esme, outstanding, window, closed))
            try:
                while not closed.is_set() and not self.stop_load.is_set():
                    if resend:
                        pdu, key, tags, attempt = resend.pop(0)
                    else:
                        await self.pace(share, count)
                        count += 1
                        if self.stop_load.is_set():
                            break
                        pdu, key, tags, attempt = self._next_smpp_submits()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(window.acquire(), 5)
                    if closed.is_set():
                        resend.insert(0, (pdu, key, tags, attempt))
                        break
                    sent = esme.send(dataclasses.replace(pdu, sequence_number=0))
                    outstanding[sent.sequence_number] = (pdu, key, tags, attempt)
                if self.stop_load.is_set():
                    await read_task  # receipts until all are in, the deadline, or a close
                else:
                    await closed.wait()
            finally:
                read_task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await read_task
                await esme.close()
            # Unanswered submits: the gateway may or may not have committed them; an ESME
            # sends them again (a new attempt tag, so the carrier's counts stay exact).
            for pdu, key, tags, attempt in outstanding.values():
                self.report.refused["smpp unanswered"] += 1
                if self.stop_load.is_set():
                    continue
                new_tags = [t.rsplit(".", 1)[0] + f".{attempt + 1}" for t in tags]
                new_pdu = _retag(pdu, tags, new_tags)
                resend.append((new_pdu, key, new_tags, attempt + 1))
            await asyncio.sleep(0.05)

    def _next_smpp_submits(self) -> tuple[SubmitSm, str, list[str], int]:
        number = next(self.smpp_numbers)
        text, tags = _text("S", number, 1)
        return submit(text.encode(), receipt=1), f"S{number}", tags, 0

    def _on_pdu(
        self,
        pdu: Pdu,
        outstanding: dict[int, tuple[SubmitSm, str, list[str], int]],
        window: asyncio.Semaphore,
    ) -> None:
        if isinstance(pdu, SubmitSmResp):
            entry = outstanding.pop(pdu.sequence_number, None)
            if entry is None:
                return
            window.release()
            _, _key, tags, _ = entry
            if pdu.command_status == 0:
                ack_id = pdu.message_id
                self.report.acked.append(
                    Acked(
                        "smpp", ack_id, PART_SUFFIX.sub("", ack_id), tags, self.now(), receipt=True
                    )
                )
            else:
                self.report.refused[f"smpp status {pdu.command_status:#x}"] += 1
        elif isinstance(pdu, DeliverSm) and pdu.esm_class & ESM_CLASS_RECEIPT:
            receipted = pdu.tlvs.get(Tlv.RECEIPTED_MESSAGE_ID)
            if isinstance(receipted, bytes):
                receipted = receipted.decode(errors="replace")
            if receipted:
                self.receipts.setdefault(str(receipted).rstrip("\x00"), self.now())

    def _receipts_complete(self) -> bool:
        wanted = {a.ack_id for a in self.report.acked if a.receipt}
        return wanted <= self.receipts.keys()

    # -- the checks

    async def settle(self, deadline: float) -> dict[str, dict[str, Any]]:
        """Poll every acknowledged message until all are final or `deadline` passes."""
        assert self.gw is not None
        final = {"delivered", "undelivered", "expired", "rejected", "failed", "cancelled"}
        bodies: dict[str, dict[str, Any]] = {}
        pending = {a.message_id for a in self.report.acked}
        async with httpx.AsyncClient(
            base_url=self.gw.url, headers={"Authorization": f"Bearer {self.gw.key}"}, timeout=10
        ) as client:
            gate = asyncio.Semaphore(16)

            async def fetch(message_id: str) -> None:
                async with gate:
                    try:
                        response = await client.get(f"/v1/messages/{message_id}")
                    except httpx.HTTPError as exc:
                        self.report.missing[message_id] = f"GET failed: {exc!r}"
                        return
                if response.status_code == 200:
                    self.report.missing.pop(message_id, None)
                    bodies[message_id] = response.json()
                else:
                    self.report.missing[message_id] = f"{response.status_code} {response.text}"

            for _round in range(10_000):  # bounded by the deadline long before this
                await asyncio.gather(*(fetch(m) for m in sorted(pending)))
                still = {m for m in pending if m not in bodies or bodies[m]["status"] not in final}
                for message_id in pending - still:
                    self.report.last_final = (message_id, self.now() - self.report.seconds_load)
                pending = still
                if not pending or time.monotonic() >= deadline:
                    break
                await asyncio.sleep(0.5)
        # The final status's event follows the commit of that status: wait for it too.
        while self.config.webhooks and time.monotonic() < deadline:
            received = self._final_events()
            if all(received.get(m) == b["status"] for m, b in bodies.items()):
                break
            await asyncio.sleep(0.5)
        return bodies

    def _final_events(self) -> dict[str, str]:
        """message id -> a final status some received webhook event reported."""
        final: dict[str, str] = {}
        for event in self.hooks.events():
            data = event.get("data", {})
            if Status(data.get("status", "accepted")).terminal:
                final[data["message_id"]] = data["status"]
        return final

    def check(self, bodies: dict[str, dict[str, Any]]) -> None:
        report = self.report
        report.messages_checked = len(bodies)
        expected_tags: set[str] = set()
        for acked in report.acked:
            expected_tags.update(acked.tags)
        for message_id, body in bodies.items():
            report.parts_checked += len(body["parts"])
            if body["status"] != "delivered":
                report.not_final[message_id] = body
            for part in body["parts"]:
                if part["attempts"] > 1:
                    report.duplicates_attempts += part["attempts"] - 1
        counts = self.upstream.submits_by_tag
        report.upstream_submits = sum(counts.values()) + self.upstream.untagged_submits
        for tag in sorted(expected_tags):
            seen = counts.get(tag, 0)
            if seen == 0:
                report.never_at_carrier.append(tag)
            elif seen > 1:
                report.duplicates_upstream += seen - 1
                first, second = (t - self.t0 for t in self.upstream.submit_times[tag][:2])
                # The kill that made the gateway send it again: the last one before the resend.
                kill = next((k for k in reversed(report.kills) if k.at <= second), None)
                report.duplicate_details.append(
                    {
                        "tag": tag,
                        "carrier_submits": seen,
                        "first_submit_at": round(first, 3),
                        "resent_at": round(second, 3),
                        "kill": kill.index if kill else None,
                        # The carrier answers at once: how long the gateway held the answer
                        # before that kill (negative: the submit reached the carrier as the
                        # gateway died, and the answer went to a dead socket).
                        "answered_before_kill_s": round(kill.at - first, 3) if kill else None,
                    }
                )
        report.sent_but_not_acked = sum(c for t, c in counts.items() if t not in expected_tags)
        wanted = [a.ack_id for a in report.acked if a.receipt]
        report.receipts_requested = len(wanted)
        report.receipts_received = sum(1 for a in wanted if a in self.receipts)
        report.receipts_missing = [a for a in wanted if a not in self.receipts]
        late = [
            (self.receipts[a.ack_id] - a.at, a.ack_id)
            for a in report.acked
            if a.receipt and a.ack_id in self.receipts
        ]
        if late:
            wait, ack_id = max(late)
            report.last_receipt = (ack_id, wait)
            acked_at = next(a.at for a in report.acked if a.ack_id == ack_id)
            kill = next((k for k in report.kills if k.at >= acked_at), None)
            if kill is not None:
                report.last_receipt_kill = (kill.index, kill.at - acked_at)
        if self.config.webhooks:
            self.check_webhooks(bodies)
        self.collect_evidence(bodies)

    def check_webhooks(self, bodies: dict[str, dict[str, Any]]) -> None:
        """Every status event of every acknowledged message arrived at least once, and the
        distinct ones of each message form one forward chain ending at its final status."""
        report = self.report
        seen: set[str] = set()
        # message id -> its distinct events in the order they first arrived
        chains: dict[str, list[dict[str, Any]]] = {}
        for event in self.hooks.events():
            if not str(event.get("type", "")).startswith("message."):
                continue
            report.webhook_deliveries += 1
            if event["id"] in seen:
                report.webhook_duplicates += 1
                continue
            seen.add(event["id"])
            chains.setdefault(event["data"]["message_id"], []).append(event)
        for message_id, body in bodies.items():
            report.webhook_messages_checked += 1
            events = chains.get(message_id, [])
            report.webhook_events += len(events)
            problem = _chain_problem(events, body["status"])
            if problem:
                report.webhook_problems[message_id] = problem

    def collect_evidence(self, bodies: dict[str, dict[str, Any]]) -> None:
        report = self.report
        by_id = {a.message_id: a for a in report.acked}
        by_ack = {a.ack_id: a for a in report.acked}
        problems: list[tuple[str, Acked | None, str]] = []
        for message_id, body in list(report.not_final.items())[:5]:
            problems.append(("not delivered", by_id.get(message_id), _json(body)))
        for message_id, answer in list(report.missing.items())[:5]:
            problems.append(("missing", by_id.get(message_id), answer))
        for message_id, problem in list(report.webhook_problems.items())[:5]:
            problems.append((f"webhook events: {problem}", by_id.get(message_id), ""))
        for ack_id in report.receipts_missing[:5]:
            acked = by_ack.get(ack_id)
            fetched = bodies.get(acked.message_id) if acked else None
            problems.append(("receipt missing", acked, _json(fetched)))
        log = self.gw.output() if self.gw is not None else ""
        for what, acked, detail in problems:
            if acked is None:
                continue
            lines = [
                f"{what}: {acked.channel} ack {acked.ack_id} (message {acked.message_id},"
                f" tags {acked.tags}) acknowledged at {acked.at:.3f}s;"
                f" carrier submits {[self.upstream.submits_by_tag.get(t, 0) for t in acked.tags]}",
                f"GET /v1/messages/{acked.message_id}: {detail}",
            ]
            kill = next((k for k in report.kills if k.at >= acked.at), None)
            if kill is not None:
                lines.append(
                    f"next kill: #{kill.index} at {kill.at:.3f}s"
                    f" ({kill.at - acked.at:.3f}s after the ack); gateway log around it:"
                )
                lines.append(_log_window(log, kill.log_offset, kill.restart_offset))
            mentions = [line for line in log.splitlines() if acked.message_id in line]
            lines.append(f"log lines naming {acked.message_id}: {mentions[:20]}")
            report.evidence.append("\n".join(lines))

    async def run(self) -> CrashReport:
        await self.upstream.start()
        try:
            await self.start_gateway()
            assert self.gw is not None
            self.say(f"gateway up ({self.report.store}), seed {self.seed}")
            load_deadline = self.t0 + self.config.seconds
            smpp = asyncio.create_task(self.smpp_load())
            rest = asyncio.create_task(self.rest_load())
            killer = asyncio.create_task(self.killer())
            await asyncio.sleep(max(0.0, load_deadline - time.monotonic()))
            await killer  # the last restart comes before the load ends, or just after
            self.stop_load.set()
            await rest
            self.report.seconds_load = self.now()
            self.say(f"load over: {len(self.report.acked)} acknowledged")
            settle_start = time.monotonic()
            deadline = settle_start + self.config.settle_timeout
            # From the load's real end: with slow restarts the kills run past `seconds`, and
            # an ESME that stopped reading then would report receipts the gateway still holds
            # as lost (the "lost receipts under kill" of an earlier run on a loaded machine).
            self.receipts_deadline = deadline
            bodies = await self.settle(deadline)
            self.say(f"final states read: {len(bodies)} messages")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(smpp, max(0.1, deadline - time.monotonic()))
            self.say(f"receipts: {len(self.receipts)}")
            smpp.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await smpp
            self.report.seconds_settle = time.monotonic() - settle_start
            self.check(bodies)
            self.report.gateway_log = str(self.gw.log_path)
            self.gw.terminate()
            return self.report
        finally:
            if self.gw is not None:
                self.gw.kill()
            await self.upstream.stop()
            await self.hooks.stop()
            self.report.seconds_total = self.now()


_STARTS = frozenset({Status.ACCEPTED, Status.SCHEDULED, Status.QUEUED})


def _chain_problem(events: list[dict[str, Any]], final: str) -> str | None:
    """What is wrong with one message's distinct webhook events (in arrival order), or None.

    The gateway records an event for each transition of a message with the status it left, so
    the events link up: sorted by sequence, each one's `previous_status` is the one before's
    `status`. A missing link or a short chain is a lost event; a rank that does not grow, or
    an arrival order that differs from the sequence order, contradicts the lifecycle or the
    in-order promise."""
    if not events:
        return f"no event received (final status {final})"
    sequences = [e["sequence"] for e in events]
    if sequences != sorted(sequences):
        return f"arrived out of sequence order: {sequences}"
    previous: Status | None = None
    for event in events:
        data = event["data"]
        status, left = Status(data["status"]), Status(data["previous_status"])
        if event["type"] != f"message.{status.value}":
            return f"event type {event['type']} reports status {status.value}"
        if previous is None:
            if left not in _STARTS:
                return f"first event received leaves {left.value}: the one before is lost"
        elif left is not previous:
            return f"event {status.value} leaves {left.value}, last received {previous.value}"
        if status.rank <= left.rank:
            return f"{left.value} -> {status.value} goes backwards"
        previous = status
    if previous is None or previous.value != final:
        last = previous.value if previous else None
        return f"events end at {last}, the message is {final}"
    return None


def _retag(pdu: SubmitSm, old: list[str], new: list[str]) -> SubmitSm:
    text = pdu.short_message.decode()
    for a, b in zip(old, new, strict=True):
        text = text.replace(a, b)
    return dataclasses.replace(pdu, short_message=text.encode())


def _json(body: object) -> str:
    import json

    return json.dumps(body, sort_keys=True)


def _log_window(log_text: str, start: int, end: int, before: int = 15, after: int = 15) -> str:
    """The gateway log's last `before` lines before a kill and first `after` lines of the
    restart (byte offsets into the log file)."""
    data = log_text.encode()
    head = data[:start].decode(errors="replace").splitlines()[-before:]
    tail = data[start:end].decode(errors="replace").splitlines()[:after]
    return (
        "\n".join(["    " + line for line in head] + ["    ---- SIGKILL ----"])
        + "\n"
        + ("\n".join("    " + line for line in tail))
    )


def run_crash(config: CrashConfig) -> CrashReport:
    """Run one crash scenario to the end and return what it saw (it never raises on a lost
    message: the caller decides; it raises if the gateway cannot start)."""
    return asyncio.run(_Run(config).run())
