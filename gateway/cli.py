"""`python -m gateway <command>`: run, simulate, migrate, accounts, keys, and the operator
commands of `operator_commands` (queues, connectors, message, retry, expire)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from gateway.config import Settings, load_settings
from gateway.domain import ConfigError, new_id
from gateway.store import Store, open_store

EXIT_CONFIG = 2


def _run(coro: Coroutine[Any, Any, Any]) -> Any:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on every supported OS
        return asyncio.run(coro)
    return uvloop.run(coro)


async def _with_store(settings: Settings, fn: Callable[[Store], Awaitable[Any]]) -> Any:
    store = open_store(settings.database_url, schema=settings.database_schema)
    await store.open()
    try:
        await store.migrate()
        return await fn(store)
    finally:
        await store.close()


def cmd_run(args: argparse.Namespace) -> int:
    from gateway import logs
    from gateway.app import serve

    settings = load_settings()
    logs.configure(settings.log_level)
    if settings.workers > 1 and not settings.worker:
        from gateway.supervisor import run_workers

        return run_workers(settings)
    _run(serve(settings))
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from gateway import logs
    from gateway.simulator import SimulatorConfig, run_simulator

    logs.configure("INFO")
    config = SimulatorConfig(
        host=args.host,
        port=args.port,
        system_id=args.system_id,
        password=args.password,
        receipt_delay=args.receipt_delay,
        delivered_ratio=args.delivered_ratio,
        submit_latency=args.latency,
        reject_ratio=args.reject_ratio,
        throttle_tps=args.throttle_tps,
    )
    with contextlib.suppress(KeyboardInterrupt):
        _run(run_simulator(config))
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = load_settings()

    async def migrate() -> list[int]:
        store = open_store(settings.database_url, schema=settings.database_schema)
        await store.open()
        try:
            return await store.migrate()
        finally:
            await store.close()

    applied = _run(migrate())
    print(f"applied migrations: {applied}" if applied else "schema is up to date")
    return 0


def cmd_accounts_create(args: argparse.Namespace) -> int:
    settings = load_settings()

    async def create(store: Store) -> str:
        if await store.get_account_by_name(args.name) is not None:
            raise SystemExit(f"an account named {args.name!r} exists already")
        account = await store.create_account(account_id=new_id(), name=args.name, now=time.time())
        return account.id

    print(_run(_with_store(settings, create)))
    return 0


def cmd_accounts_smpp(args: argparse.Namespace) -> int:
    from gateway.domain import SmppCredential
    from gateway.passwords import hash_password

    if not 1 <= len(args.password) <= 8 or not 1 <= len(args.system_id) <= 15:
        raise SystemExit("SMPP 3.4: system_id is 1-15 characters and the password 1-8")
    settings = load_settings()

    async def set_credentials(store: Store) -> None:
        account = await store.get_account_by_name(args.name)
        if account is None:
            raise SystemExit(f"no account named {args.name!r}")
        await store.add_smpp_credential(
            SmppCredential(
                system_id=args.system_id,
                account_id=account.id,
                password_hash=hash_password(args.password),
                allowed_networks=tuple(args.allow),
                max_binds=args.max_binds,
                throughput=args.throughput,
            ),
            now=time.time(),
        )

    _run(_with_store(settings, set_credentials))
    print(f"account {args.name!r} binds as system_id {args.system_id!r}")
    return 0


def cmd_accounts_number(args: argparse.Namespace) -> int:
    settings = load_settings()
    number = args.number.strip()
    if number.startswith("+"):
        from gateway.phone import normalize_e164

        number = normalize_e164(number)
    elif not number.isdigit():
        raise SystemExit("a number is +E.164 or a short code of digits")

    async def assign(store: Store) -> None:
        account = await store.get_account_by_name(args.name)
        if account is None:
            raise SystemExit(f"no account named {args.name!r}")
        await store.add_number(number=number, account_id=account.id, now=time.time())

    _run(_with_store(settings, assign))
    print(f"inbound messages to {number} go to account {args.name!r}")
    return 0


def cmd_keys_create(args: argparse.Namespace) -> int:
    from gateway.keys import KeyAuthenticator

    settings = load_settings()

    async def create(store: Store) -> str:
        account = await store.get_account_by_name(args.account)
        if account is None:
            raise SystemExit(f"no account named {args.account!r}")
        return await KeyAuthenticator(store=store).create_key(account_id=account.id)

    key = _run(_with_store(settings, create))
    print(key)
    print("store this key now: it is shown only once", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gateway",
        description="SMS gateway. Settings come from GATEWAY_* environment variables "
        "(and GATEWAY_CONFIG_FILE, a TOML file).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("run", help="run the gateway (REST API, dispatch, upstream)").set_defaults(
        func=cmd_run
    )

    sim = sub.add_parser("simulate", help="run the built-in SMSC simulator alone")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=2776)
    sim.add_argument("--system-id", default="gateway")
    sim.add_argument("--password", default="secret")
    sim.add_argument("--receipt-delay", type=float, default=0.05, help="seconds")
    sim.add_argument("--delivered-ratio", type=float, default=1.0)
    sim.add_argument("--latency", type=float, default=0.0, help="submit_sm_resp delay, seconds")
    sim.add_argument("--reject-ratio", type=float, default=0.0)
    sim.add_argument("--throttle-tps", type=float, default=0.0)
    sim.set_defaults(func=cmd_simulate)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)

    accounts = sub.add_parser("accounts", help="manage accounts")
    accounts_sub = accounts.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = accounts_sub.add_parser("create", help="create an account; prints its id")
    create.add_argument("name")
    create.set_defaults(func=cmd_accounts_create)

    smpp = accounts_sub.add_parser(
        "smpp", help="set an account's SMPP credentials (system_id and password)"
    )
    smpp.add_argument("name", help="account name")
    smpp.add_argument("--system-id", required=True)
    smpp.add_argument("--password", required=True, help="at most 8 characters (SMPP 3.4)")
    smpp.add_argument("--max-binds", type=int, default=10)
    smpp.add_argument("--throughput", type=float, default=0.0, help="segments/s; 0: no limit")
    smpp.add_argument(
        "--allow", action="append", default=[], metavar="CIDR", help="allowed source network"
    )
    smpp.set_defaults(func=cmd_accounts_smpp)

    number = accounts_sub.add_parser(
        "number", help="assign a number (or short code) to an account for inbound messages"
    )
    number.add_argument("name", help="account name")
    number.add_argument("number", help="+E.164 number or short code")
    number.set_defaults(func=cmd_accounts_number)

    keys = sub.add_parser("keys", help="manage API keys")
    keys_sub = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    key_create = keys_sub.add_parser("create", help="create an API key; prints it once")
    key_create.add_argument("account", help="account name")
    key_create.set_defaults(func=cmd_keys_create)

    from gateway.operator_commands import add_operator_commands

    add_operator_commands(sub, lambda settings, fn: _run(_with_store(settings, fn)))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except ConfigError as exc:
        print(exc.detail, file=sys.stderr)
        return EXIT_CONFIG
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return result
