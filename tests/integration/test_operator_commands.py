"""Operator commands (`python -m gateway queues | connectors | message | retry | expire`) run
through `gateway.cli.main` against real stores, SQLite and PostgreSQL.

Each command runs in a thread, as it would in its own process: it opens the store from the
GATEWAY_* settings and runs its own event loop, while the test holds the store fixture open.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import httpx
import pytest

from gateway.app import Gateway
from gateway.cli import main
from gateway.domain import MessageType, NewMessage, PartUpdate, Status, new_id
from gateway.operator_commands import duration
from gateway.store import Store
from tests.integration.test_store_contract import _message as contract_message

NUMBER = "+4915112345678"


@pytest.fixture
def cli_env(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the command's settings at the same database as the `store` fixture."""
    import os

    for name in list(os.environ):
        if name.startswith("GATEWAY_"):
            monkeypatch.delenv(name)
    if store.dialect == "sqlite":
        monkeypatch.setenv("GATEWAY_DATABASE_URL", f"sqlite:///{store.path}")  # type: ignore[attr-defined]
    else:
        monkeypatch.setenv("GATEWAY_DATABASE_URL", store.dsn)  # type: ignore[attr-defined]
        monkeypatch.setenv("GATEWAY_DATABASE_SCHEMA", store.schema)  # type: ignore[attr-defined]


async def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def _account(store: Store, name: str = "acme") -> str:
    account_id = new_id()
    await store.create_account(account_id=account_id, name=name, now=time.time())
    return account_id


def _message(account_id: str, parts: int = 1, **kwargs: object) -> NewMessage:
    """The contract tests' message, accepted now unless told otherwise: the commands measure
    ages against the clock."""
    return contract_message(account_id, parts, **{"created_at": time.time(), **kwargs})


async def _submitted(store: Store, message: NewMessage, at: float) -> None:
    await store.apply_updates(
        [
            PartUpdate(
                message.id, p.seq, Status.SUBMITTED, at, upstream_id=f"up-{message.id}-{p.seq}"
            )
            for p in message.parts
        ]
    )


async def test_queues_counts_parts_per_connector_and_lane(
    store: Store, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    account_id = await _account(store)
    now = time.time()
    otp = _message(account_id, parts=2, message_type=MessageType.OTP, created_at=now - 120)
    promo = _message(account_id, message_type=MessageType.PROMOTIONAL, send_at=now + 3600)
    held = _message(account_id, connector="carrier-b")
    sent = _message(account_id)
    await store.insert_messages([otp, promo, sent], owner=None)
    await store.insert_messages([held], owner="node-a")
    await _submitted(store, sent, now)

    code, out, _ = await _cli(capsys, "queues", "--json")
    assert code == 0
    lanes = {(r["connector"], r["lane"]): r for r in json.loads(out)}
    assert set(lanes) == {
        ("simulator", "otp"),
        ("simulator", "promotional"),
        ("carrier-b", "transactional"),
    }
    assert lanes[("simulator", "otp")]["queued"] == 2
    assert lanes[("simulator", "otp")]["due"] == 2
    assert lanes[("simulator", "otp")]["held"] == 0
    assert lanes[("simulator", "otp")]["oldest_due_age"] >= 100
    assert lanes[("simulator", "promotional")]["oldest_due_age"] is None
    assert lanes[("simulator", "promotional")]["due"] == 0
    assert lanes[("carrier-b", "transactional")]["held"] == 1

    code, out, _ = await _cli(capsys, "queues")
    lines = out.splitlines()
    assert lines[0].split() == ["CONNECTOR", "LANE", "QUEUED", "DUE", "HELD", "OLDEST", "DUE"]
    assert any(line.split()[:5] == ["simulator", "otp", "2", "2", "0"] for line in lines)


async def test_queues_says_so_when_nothing_is_queued(
    store: Store, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = await _cli(capsys, "queues")
    assert (code, out.strip()) == (0, "no queued parts")


async def test_message_shows_parts_upstream_ids_and_errors_with_the_number_masked(
    store: Store, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    account_id = await _account(store)
    message = _message(account_id, parts=2)
    await store.insert_messages([message], owner=None)
    now = time.time()
    await _submitted(store, message, now)
    await store.apply_updates(
        [
            PartUpdate(message.id, 0, Status.DELIVERED, now + 1),
            PartUpdate(
                message.id, 1, Status.UNDELIVERED, now + 1, error_code="1", error_detail="absent"
            ),
        ]
    )

    code, out, _ = await _cli(capsys, "message", message.id, "--json")
    assert code == 0
    shown = json.loads(out)
    assert shown["status"] == "undelivered" and shown["account_name"] == "acme"
    assert shown["destination"] != NUMBER and shown["destination"].endswith("78")
    assert [(p["seq"], p["status"], p["upstream_id"]) for p in shown["parts"]] == [
        (0, "delivered", f"up-{message.id}-0"),
        (1, "undelivered", f"up-{message.id}-1"),
    ]
    assert shown["parts"][1]["error_code"] == "1"
    assert shown["parts"][1]["error_detail"] == "absent"

    code, out, _ = await _cli(capsys, "message", message.id)
    assert code == 0
    assert NUMBER not in out and "hello" not in out
    assert f"up-{message.id}-1" in out and "1 absent" in out

    code, out, _ = await _cli(capsys, "message", message.id, "--json", "--full-numbers")
    assert json.loads(out)["destination"] == NUMBER


async def test_message_that_does_not_exist_exits_1(
    store: Store, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = await _cli(capsys, "message", "01NOSUCHMESSAGE")
    assert (code, out) == (1, "")
    assert "no message" in err


async def test_retry_requeues_submitted_parts_whose_receipt_never_came(
    store: Store, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    account_id = await _account(store)
    now = time.time()
    stuck = [_message(account_id, created_at=now - 7300) for _ in range(3)]
    recent = _message(account_id)
    # No receipt was asked for: `submitted` is as far as it goes, and it is not stuck.
    unasked = _message(account_id, registered_delivery=False, created_at=now - 7300)
    other = _message(account_id, connector="carrier-b", created_at=now - 7300)
    await store.insert_messages([*stuck, recent, unasked, other], owner=None)
    for m in [*stuck, unasked, other]:
        await _submitted(store, m, now - 7200)
    await _submitted(store, recent, now)

    code, out, err = await _cli(
        capsys, "retry", "--submitted-older-than", "1h", "--connector", "simulator", "--batch", "2"
    )
    assert code == 0
    assert out.strip() == "re-queued 3 submitted part(s) of 3 found"
    # Progress after each page of 2.
    assert err.splitlines() == ["re-queued 2 of 2 parts so far", "re-queued 3 of 3 parts so far"]

    for m in stuck:
        detail = await store.message_detail(m.id)
        assert detail is not None
        part = detail.parts[0]
        assert (part.status, part.owner, part.attempts, part.submitted_at) == (
            Status.QUEUED,
            None,
            0,
            None,
        )
        assert part.due_at >= now
        # The first send's id stays until the next submit replaces it: a late receipt matches.
        assert part.upstream_id == f"up-{m.id}-0"
    for m in (recent, unasked, other):
        detail = await store.message_detail(m.id)
        assert detail is not None and detail.parts[0].status is Status.SUBMITTED
    claimed = await store.claim_parts(node_id="node-a", limit=10, now=time.time() + 1)
    assert {p.message_id for p in claimed} == {m.id for m in stuck}


async def test_retry_puts_recently_failed_messages_back_in_the_queue(
    store: Store, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    account_id = await _account(store)
    now = time.time()
    failed = _message(account_id, parts=2)
    long_ago = _message(account_id)
    rejected = _message(account_id)
    lapsed = _message(account_id, expires_at=now - 1)
    await store.insert_messages([failed, long_ago, rejected, lapsed], owner=None)
    await _submitted(store, failed, now - 60)
    await store.apply_updates(
        [
            PartUpdate(failed.id, 0, Status.DELIVERED, now - 50),
            PartUpdate(failed.id, 1, Status.FAILED, now - 50, error_code="8", error_detail="x"),
            PartUpdate(long_ago.id, 0, Status.FAILED, now - 7200, error_code="8"),
            PartUpdate(rejected.id, 0, Status.REJECTED, now - 50, error_code="11"),
            PartUpdate(lapsed.id, 0, Status.FAILED, now - 50, error_code="8"),
        ]
    )
    before = await store.message_detail(failed.id)
    assert before is not None and before.status is Status.FAILED

    code, out, _ = await _cli(capsys, "retry", "--failed-since", "30m")
    assert (code, out.strip()) == (0, "re-queued 1 failed part(s) of 1 found")

    after = await store.message_detail(failed.id)
    assert after is not None
    assert after.status is Status.QUEUED
    assert (after.done_at, after.error_code) == (None, None)
    assert [p.status for p in after.parts] == [Status.DELIVERED, Status.QUEUED]
    for untouched, status in ((long_ago, Status.FAILED), (rejected, Status.REJECTED)):
        detail = await store.message_detail(untouched.id)
        assert detail is not None and detail.status is status
    detail = await store.message_detail(lapsed.id)
    assert detail is not None and detail.status is Status.FAILED

    # The lifecycle carries on from there: sent again, delivered.
    await _submitted(store, failed, time.time())
    await store.apply_updates([PartUpdate(failed.id, 1, Status.DELIVERED, time.time())])
    done = await store.message_detail(failed.id)
    assert done is not None and done.status is Status.DELIVERED


async def test_expire_takes_only_queued_parts_no_node_holds(
    store: Store, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    account_id = await _account(store)
    now = time.time()
    old = [_message(account_id, created_at=now - 7200) for _ in range(3)]
    recent = _message(account_id)
    held = _message(account_id, created_at=now - 7200)
    await store.insert_messages([*old, recent], owner=None)
    await store.insert_messages([held], owner="node-a")

    code, out, err = await _cli(capsys, "expire", "--queued-older-than", "1h", "--batch", "2")
    assert (code, out.strip()) == (0, "expired 3 part(s) of 3 found")
    assert err.splitlines() == ["expired 2 queued parts so far", "expired 3 queued parts so far"]
    for m in old:
        detail = await store.message_detail(m.id)
        assert detail is not None
        assert (detail.status, detail.error_code) == (Status.EXPIRED, "expired")
        assert detail.parts[0].status is Status.EXPIRED
    for m in (recent, held):
        detail = await store.message_detail(m.id)
        assert detail is not None and detail.parts[0].status is Status.QUEUED
    assert await store.claim_parts(node_id="node-b", limit=10, now=time.time()) != []


async def test_expire_submitted_parts_whose_receipt_never_came(
    store: Store, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    account_id = await _account(store)
    now = time.time()
    stuck = _message(account_id, parts=2)
    delivered = _message(account_id)
    await store.insert_messages([stuck, delivered], owner=None)
    await _submitted(store, stuck, now - 90000)
    await _submitted(store, delivered, now - 90000)
    await store.apply_updates([PartUpdate(delivered.id, 0, Status.DELIVERED, now - 80000)])

    code, out, _ = await _cli(capsys, "expire", "--submitted-older-than", "1d")
    assert (code, out.strip()) == (0, "expired 2 part(s) of 2 found")
    detail = await store.message_detail(stuck.id)
    assert detail is not None and detail.status is Status.EXPIRED
    assert [p.status for p in detail.parts] == [Status.EXPIRED, Status.EXPIRED]
    kept = await store.message_detail(delivered.id)
    assert kept is not None and kept.status is Status.DELIVERED


async def test_connectors_reports_binds_from_a_running_gateway(
    gateway: Gateway, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{gateway.http_port}"
    for _ in range(100):
        _, out, _ = await _cli(capsys, "connectors", "--url", url, "--json")
        shown = json.loads(out)
        binds = shown["connectors"][0]["binds"]
        if binds and all(b["state"] == "bound" for b in binds):
            break
        await asyncio.sleep(0.05)
    assert shown["gateway"]["store"] == "ok"
    assert [(c["name"], c["kind"], c["route"]) for c in shown["connectors"]] == [
        ("simulator", "simulator", "default")
    ]
    assert binds and all(b["state"] == "bound" for b in binds)

    code, out, _ = await _cli(capsys, "connectors", "--url", url)
    assert code == 0
    assert out.splitlines()[0] == f"gateway at {url}: ready"
    assert out.splitlines()[2].split()[:4] == ["simulator", "simulator", "default", "-"]
    assert f"{len(binds)}/{len(binds)} bound" in out


async def test_connectors_lists_configuration_when_no_gateway_answers(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, unused_port: int
) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("GATEWAY_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GATEWAY_UPSTREAM", "smpp://acme:pw@10.1.2.3:2775?binds=2")
    monkeypatch.setenv("GATEWAY_CONNECTORS", '{"backup": {"kind": "http", "url": "x"}}')
    url = f"http://127.0.0.1:{unused_port}"
    code, out, _ = await _cli(capsys, "connectors", "--url", url, "--timeout", "0.5")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(f"gateway at {url} not reachable")
    assert lines[2].split() == ["upstream", "smpp", "default", "10.1.2.3:2775", "unknown"]
    assert lines[3].split() == ["backup", "http", "configured", "-", "unknown"]
    assert "pw" not in out


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("90s", 90.0), ("15m", 900.0), ("2h", 7200.0), ("1.5d", 129600.0)],
)
def test_duration_reads_units(text: str, seconds: float) -> None:
    assert duration(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "-5m", "5w", "1h30m"])
def test_duration_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        duration(text)


def test_retry_needs_to_be_told_what_is_stuck(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["retry"])
    assert exc.value.code == 2
    assert "--submitted-older-than" in capsys.readouterr().err


async def test_a_retried_failed_message_is_sent_again_by_the_running_gateway(
    gateway: Gateway,
    api: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = gateway.store
    assert store is not None
    account = await store.get_account_by_name("demo")
    assert account is not None
    message = _message(account.id, parts=1)
    # Failed before this node ever held it, as after a carrier outage on another node.
    await store.insert_messages([message], owner=None)
    await store.apply_updates(
        [PartUpdate(message.id, 0, Status.FAILED, time.time(), error_code="8", attempt=True)]
    )
    assert (await api.get(f"/v1/messages/{message.id}")).json()["status"] == "failed"

    # The command runs beside the gateway on the same SQLite file, as an operator would.
    monkeypatch.setenv("GATEWAY_DATABASE_URL", gateway.settings.database_url)
    code, out, _ = await _cli(capsys, "retry", "--failed-since", "10m")
    assert (code, out.strip()) == (0, "re-queued 1 failed part(s) of 1 found")

    for _ in range(200):
        shown = (await api.get(f"/v1/messages/{message.id}")).json()
        if shown["status"] == "delivered":
            break
        await asyncio.sleep(0.05)
    assert shown["status"] == "delivered"
    assert shown["error_code"] is None
