"""Operator commands of `python -m gateway`: look at queues, connectors and one message, retry
or expire stuck parts, replay webhook events.

They talk to the store directly (like `accounts` and `keys`), so they work while the gateway
is down; `connectors` also asks a running gateway's `/readyz` for its binds. Long jobs work in
pages and report progress on stderr after each; results go to stdout (`--json` for scripts).
Numbers are masked unless `--full-numbers` is given; message bodies are never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from gateway.config import Settings, load_settings
from gateway.domain import PartKey, PartUpdate, Status
from gateway.phone import mask
from gateway.store import Store

Runner = Callable[[Settings, Callable[[Store], Awaitable[Any]]], Any]

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
_UNIT_SECONDS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def duration(value: str) -> float:
    """`90`, `90s`, `15m`, `2h`, `1d` as seconds."""
    match = _DURATION.match(value.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"not a duration: {value!r} (try 90s, 15m, 2h, 1d)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def batch_size(value: str) -> int:
    size = int(value)
    if not 1 <= size <= 10_000:
        raise argparse.ArgumentTypeError("a batch is 1 to 10000 parts")
    return size


def _age(now: float, at: float | None) -> str:
    if at is None:
        return "-"
    seconds = max(0.0, now - at)
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def _when(at: float | None) -> str:
    return "-" if at is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at)) + "Z"


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def cmd_queues(args: argparse.Namespace, run: Runner) -> int:
    settings = load_settings()
    now = time.time()
    lanes = run(settings, lambda store: store.queue_lanes(now=now))
    if args.json:
        print(
            json.dumps(
                [
                    {**asdict(lane), "lane": lane.lane, "oldest_due_age": _seconds(now, lane)}
                    for lane in lanes
                ]
            )
        )
        return 0
    if not lanes:
        print("no queued parts")
        return 0
    rows = [["CONNECTOR", "LANE", "QUEUED", "DUE", "HELD", "OLDEST DUE"]]
    rows += [
        [
            lane.connector,
            lane.lane,
            str(lane.queued),
            str(lane.due),
            str(lane.held),
            _age(now, lane.oldest_due_at),
        ]
        for lane in lanes
    ]
    print(_table(rows))
    return 0


def _seconds(now: float, lane: Any) -> float | None:
    at = lane.oldest_due_at
    return None if at is None else round(max(0.0, now - at), 3)


def _configured_connectors(settings: Settings) -> list[dict[str, Any]]:
    upstream = settings.upstream_config
    found = [
        {
            "name": settings.default_connector,
            "kind": upstream.kind,
            # The URL without its password: this goes to a terminal or a ticket.
            "target": f"{upstream.host}:{upstream.port}" if upstream.kind != "simulator" else "",
            "route": "default",
        }
    ]
    for name, options in sorted(settings.connectors.items()):
        found.append({"name": name, "kind": options["kind"], "target": "", "route": "configured"})
    return found


def _readiness(url: str, timeout: float) -> tuple[dict[str, Any] | None, str]:
    import httpx

    try:
        response = httpx.get(f"{url.rstrip('/')}/readyz", timeout=timeout)
        body: dict[str, Any] = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        return None, f"gateway at {url} not reachable ({type(exc).__name__})"
    return body, f"gateway at {url}: {'ready' if response.status_code == 200 else 'NOT ready'}"


def cmd_connectors(args: argparse.Namespace, run: Runner) -> int:
    settings = load_settings()
    host = "127.0.0.1" if settings.http_host in ("0.0.0.0", "::", "") else settings.http_host  # noqa: S104
    url = args.url or f"http://{host}:{settings.http_port}"
    readiness, headline = _readiness(url, args.timeout)
    upstreams: dict[str, list[dict[str, Any]]] = (readiness or {}).get("upstreams", {})
    connectors = _configured_connectors(settings)
    for connector in connectors:
        binds = upstreams.get(connector["name"])
        connector["binds"] = binds
    if args.json:
        print(json.dumps({"gateway": readiness, "connectors": connectors}))
        return 0
    print(headline)
    rows = [["CONNECTOR", "KIND", "ROUTE", "TARGET", "BINDS"]]
    for c in connectors:
        binds = c["binds"]
        if binds is None:
            state = "unknown" if readiness is None else "not running"
        else:
            up = sum(1 for b in binds if b.get("state") == "bound")
            state = f"{up}/{len(binds)} bound"
            others = sorted({b.get("state", "?") for b in binds} - {"bound"})
            if others:
                state += f" ({', '.join(others)})"
        rows.append([c["name"], c["kind"], c["route"], c["target"] or "-", state])
    print(_table(rows))
    return 0


def cmd_message(args: argparse.Namespace, run: Runner) -> int:
    settings = load_settings()
    detail = run(settings, lambda store: store.message_detail(args.id))
    if detail is None:
        print(f"no message {args.id!r}", file=sys.stderr)
        return 1
    shown = asdict(detail)
    if not args.full_numbers:
        shown["source"] = mask(detail.source) if detail.source.startswith("+") else detail.source
        shown["destination"] = mask(detail.destination)
    if args.json:
        print(json.dumps(shown, default=str))
        return 0
    print(f"message {detail.id}  {detail.status.value}")
    for label, value in (
        ("account", f"{detail.account_name} ({detail.account_id})"),
        ("from / to", f"{shown['source']} -> {shown['destination']}"),
        ("type", f"{detail.message_type.value}, {detail.encoding}, {detail.segments} part(s)"),
        ("via SMPP", detail.origin_system_id or "-"),
        ("receipt asked", "yes" if detail.registered_delivery else "no"),
        ("created", _when(detail.created_at)),
        ("send at", _when(detail.send_at)),
        ("expires", _when(detail.expires_at)),
        ("submitted", _when(detail.submitted_at)),
        ("done", _when(detail.done_at)),
        ("error", f"{detail.error_code}: {detail.error_detail}" if detail.error_code else "-"),
    ):
        print(f"  {label:<14}{value}")
    rows = [["PART", "STATUS", "CONNECTOR", "UPSTREAM ID", "TRIES", "OWNER", "ERROR"]]
    for p in detail.parts:
        error = f"{p.error_code} {p.error_detail or ''}".strip() if p.error_code else "-"
        rows.append(
            [
                str(p.seq + 1),
                p.status.value,
                p.connector,
                p.upstream_id or "-",
                str(p.attempts),
                p.owner or "-",
                error,
            ]
        )
    print(_table(rows))
    return 0


async def _page_stuck(
    store: Store,
    *,
    status: Status,
    before: float,
    connector: str | None,
    batch: int,
    act: Callable[[list[PartKey], float], Awaitable[int]],
    verb: str,
) -> tuple[int, int]:
    """Walk the stuck parts page by page, acting on each page; (found, changed)."""
    found = changed = 0
    after: PartKey | None = None
    while True:
        now = time.time()
        keys = await store.stuck_parts(
            status=status, before=before, now=now, connector=connector, after=after, limit=batch
        )
        if not keys:
            break
        found += len(keys)
        changed += await act(keys, now)
        after = keys[-1]
        print(f"{verb} {changed} of {found} parts so far", file=sys.stderr, flush=True)
        if len(keys) < batch:
            break
    return found, changed


def cmd_retry(args: argparse.Namespace, run: Runner) -> int:
    settings = load_settings()
    started = time.time()
    if args.submitted_older_than is not None:
        status, before = Status.SUBMITTED, started - args.submitted_older_than
    else:
        status, before = Status.FAILED, started - args.failed_since

    async def retry(store: Store) -> tuple[int, int]:
        async def requeue(keys: list[PartKey], now: float) -> int:
            return await store.requeue_parts(keys, now=now)

        return await _page_stuck(
            store,
            status=status,
            before=before,
            connector=args.connector,
            batch=args.batch,
            act=requeue,
            verb="re-queued",
        )

    found, changed = run(settings, retry)
    print(f"re-queued {changed} {status.value} part(s) of {found} found")
    return 0


def cmd_expire(args: argparse.Namespace, run: Runner) -> int:
    from gateway.status import StatusWriter

    settings = load_settings()
    started = time.time()

    async def expire(store: Store) -> tuple[int, int]:
        # Through the status writer, as every status change: the lifecycle guard applies (a
        # part whose receipt lands meanwhile keeps it) and messages are re-aggregated.
        writer = StatusWriter(store=store)

        async def mark(keys: list[PartKey], now: float) -> int:
            updates = [
                PartUpdate(k.message_id, k.seq, Status.EXPIRED, now, error_code="expired")
                for k in keys
            ]
            await writer.apply(updates)
            return len(keys)

        if args.submitted_older_than is not None:
            return await _page_stuck(
                store,
                status=Status.SUBMITTED,
                before=started - args.submitted_older_than,
                connector=args.connector,
                batch=args.batch,
                act=mark,
                verb="expired",
            )
        # The command takes the parts like a node, under an id of its own with a heartbeat:
        # no node's stale-lease sweep hands them back meanwhile, and if the command dies between
        # taking and expiring, its heartbeat goes stale and the sweep returns them to the queue.
        owner = f"operator:{socket.gethostname()}:{os.getpid()}"
        total = 0
        while True:
            await store.heartbeat(node_id=owner, now=time.time())
            keys = await store.claim_stale_queued(
                node_id=owner,
                before=started - args.queued_older_than,
                connector=args.connector,
                limit=args.batch,
            )
            if not keys:
                break
            total += await mark(keys, time.time())
            print(f"expired {total} queued parts so far", file=sys.stderr, flush=True)
            if len(keys) < args.batch:
                break
        return total, total

    found, changed = run(settings, expire)
    print(f"expired {changed} part(s) of {found} found")
    return 0


def cmd_webhooks_replay(args: argparse.Namespace, run: Runner) -> int:
    """Make an account's delivered or failed webhook events pending again; the running nodes'
    deliverers send them, in sequence order, within their poll interval."""
    settings = load_settings()
    since = 0.0 if args.since is None else time.time() - args.since

    async def replay(store: Store) -> int | None:
        account = await store.get_account_by_name(args.account)
        if account is None:
            return None
        return await store.replay_webhook_events(
            account_id=account.id, from_sequence=args.from_sequence, since=since
        )

    count = run(settings, replay)
    if count is None:
        print(f"no account named {args.account!r}", file=sys.stderr)
        return 1
    print(f"{count} webhook event(s) of {args.account} will be sent again")
    return 0


def add_operator_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], run: Runner
) -> None:
    """Register `queues`, `connectors`, `message`, `retry`, `expire` and `webhooks replay`;
    `run` opens the
    store from the settings and runs one coroutine against it."""

    def bind(
        parser: argparse.ArgumentParser, fn: Callable[[argparse.Namespace, Runner], int]
    ) -> None:
        parser.set_defaults(func=lambda args: fn(args, run))

    queues = sub.add_parser(
        "queues", help="queued parts per connector and priority lane, and the oldest wait"
    )
    queues.add_argument("--json", action="store_true")
    bind(queues, cmd_queues)

    connectors = sub.add_parser(
        "connectors", help="configured connectors and, from a running gateway, their binds"
    )
    connectors.add_argument("--url", help="the gateway's HTTP address (default: from settings)")
    connectors.add_argument("--timeout", type=float, default=3.0, help="seconds")
    connectors.add_argument("--json", action="store_true")
    bind(connectors, cmd_connectors)

    message = sub.add_parser(
        "message", help="one message: its parts, upstream ids, statuses and errors"
    )
    message.add_argument("id")
    message.add_argument("--json", action="store_true")
    message.add_argument("--full-numbers", action="store_true", help="do not mask numbers")
    bind(message, cmd_message)

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--connector", help="only parts of this connector")
        parser.add_argument(
            "--batch", type=batch_size, default=500, help="parts per transaction (default 500)"
        )

    retry = sub.add_parser(
        "retry", help="send stuck parts again: submitted without a receipt, or failed"
    )
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--submitted-older-than",
        type=duration,
        metavar="AGE",
        help="parts submitted longer ago than AGE (90s, 15m, 2h, 1d) whose receipt never came",
    )
    which.add_argument(
        "--failed-since",
        type=duration,
        metavar="AGE",
        help="parts that failed (temporary errors, retries used up) in the last AGE",
    )
    common(retry)
    bind(retry, cmd_retry)

    expire = sub.add_parser("expire", help="mark stuck parts expired (final, not sent again)")
    which = expire.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--queued-older-than",
        type=duration,
        metavar="AGE",
        help="queued parts no node holds, accepted (or scheduled) longer ago than AGE",
    )
    which.add_argument(
        "--submitted-older-than",
        type=duration,
        metavar="AGE",
        help="parts submitted longer ago than AGE whose receipt never came",
    )
    common(expire)
    bind(expire, cmd_expire)

    webhooks = sub.add_parser("webhooks", help="webhook events").add_subparsers(
        dest="webhooks_command", required=True
    )
    replay = webhooks.add_parser(
        "replay", help="send an account's webhook events again (delivered or given up)"
    )
    replay.add_argument("account", help="account name")
    replay.add_argument(
        "--from-sequence", type=int, default=0, help="events with this sequence and later"
    )
    replay.add_argument(
        "--since", type=duration, metavar="AGE", help="events created in the last AGE (2h, 1d)"
    )
    bind(replay, cmd_webhooks_replay)
