"""`python -m gateway <command>`: run, simulate, migrate, accounts, keys, and the operator
commands of `operator_commands` (queues, connectors, message, retry, expire, webhooks)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from gateway.config import Settings, load_settings
from gateway.domain import ConfigError
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
    from gateway.malloc_tuning import map_large_blocks
    from gateway.serve import serve

    map_large_blocks()  # before the first scrypt: the demo account's key is hashed at start
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

    from gateway.cli_accounts import add_commands

    add_commands(sub)

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
