"""`python -m gateway accounts ...` and `keys ...`: the admin API's operations from a shell.

Each command opens the store named by the settings, calls `AccountAdmin` (the service behind
`/v1/admin`, so both apply the same rules) and closes it. Running gateways pick the change up
within their refresh interval, through the config version the service bumps.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from gateway.accounts import AccountAdmin
from gateway.config import load_settings
from gateway.domain import ClientError
from gateway.domain.accounts import AccountSettings, usage_day
from gateway.store import open_store

EXIT_REFUSED = 1


def _run(fn: Callable[[AccountAdmin], Awaitable[Any]]) -> Any:
    settings = load_settings()

    async def main() -> Any:
        store = open_store(settings.database_url, schema=settings.database_schema)
        await store.open()
        try:
            await store.migrate()
            return await fn(AccountAdmin(store=store))
        finally:
            await store.close()

    return asyncio.run(main())


def _refusing(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """What the service refuses (no such account, a taken number) is one line and exit 1."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except ClientError as exc:
            print(f"{exc.code}: {exc.detail}", file=sys.stderr)
            return EXIT_REFUSED

    return run


def _limit(value: str) -> float | None:
    """A limit on the command line: a number, or `none` to remove it."""
    if value.lower() in ("none", "off", "-"):
        return None
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number or 'none'") from None
    if not number >= 0:
        raise argparse.ArgumentTypeError(f"{value!r} must be >= 0")
    return number


def _limits(args: argparse.Namespace) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if args.rate_limit is not None:
        changes["rate_limit"] = args.rate_limit[0]
    if args.daily_quota is not None:
        quota = args.daily_quota[0]
        changes["daily_quota"] = None if quota is None else int(quota)
    if args.spend_cap is not None:
        changes["spend_cap"] = args.spend_cap[0]
    if args.price is not None:
        changes["price"] = args.price[0]
    if args.senders is not None:
        changes["allowed_senders"] = [s for s in args.senders if s]
    return changes


def _describe(a: AccountSettings) -> str:
    def limit(value: float | None, unit: str) -> str:
        return "none" if value is None else f"{value:g} {unit}"

    return "\n".join(
        [
            f"account   {a.name} ({a.id}) {'active' if a.active else 'SUSPENDED'}",
            f"rate      {limit(a.rate_limit or None, 'segments/s')}",
            f"quota     {limit(a.daily_quota, 'segments/day')}",
            f"spend cap {limit(a.spend_cap, 'per month')}",
            f"price     {'route' if a.price is None else f'{a.price:g} per segment'}",
            f"senders   {', '.join(a.allowed_senders) or 'any'}",
        ]
    )


@_refusing
def cmd_create(args: argparse.Namespace) -> int:
    account = _run(lambda admin: admin.create_account(args.name, **_limits(args)))
    print(account.id)
    return 0


@_refusing
def cmd_list(args: argparse.Namespace) -> int:
    for a in _run(lambda admin: admin.list_accounts()):
        status = "active" if a.active else "suspended"
        print(f"{a.name}\t{a.id}\t{status}")
    return 0


@_refusing
def cmd_show(args: argparse.Namespace) -> int:
    async def show(admin: AccountAdmin) -> str:
        a = await admin.get_account(args.name)
        usage = await admin.usage(a.id)
        keys = await admin.list_keys(a.id)
        credentials = await admin.list_smpp_credentials(a.id)
        numbers = await admin.list_numbers(a.id)
        lines = [
            _describe(a),
            f"usage     {usage.day_segments} segments on {usage_day(time.time())}, "
            f"{usage.month_spend:g} spent this month",
        ]
        lines += [
            f"key       {k.prefix}... {'revoked' if k.revoked_at else 'active'}" for k in keys
        ]
        lines += [
            f"smpp      {c.system_id} max_binds={c.max_binds} throughput={c.throughput:g}"
            + (f" allow={','.join(c.allowed_networks)}" if c.allowed_networks else "")
            for c in credentials
        ]
        lines += [f"number    {n.number}" for n in numbers]
        return "\n".join(lines)

    print(_run(show))
    return 0


@_refusing
def cmd_limits(args: argparse.Namespace) -> int:
    changes = _limits(args)
    if args.suspend or args.activate:
        changes["active"] = bool(args.activate)
    account = _run(lambda admin: admin.update_account(args.name, **changes))
    print(_describe(account))
    return 0


@_refusing
def cmd_keys_create(args: argparse.Namespace) -> int:
    key, _ = _run(lambda admin: admin.create_key(args.account))
    print(key)
    print("store this key now: it is shown only once", file=sys.stderr)
    return 0


@_refusing
def cmd_keys_list(args: argparse.Namespace) -> int:
    for k in _run(lambda admin: admin.list_keys(args.account)):
        state = "active" if k.revoked_at is None else "revoked"
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(k.created_at))
        print(f"{k.prefix}\t{state}\t{created}")
    return 0


@_refusing
def cmd_keys_revoke(args: argparse.Namespace) -> int:
    _run(lambda admin: admin.revoke_key(args.account, args.prefix))
    print(f"revoked {args.prefix}")
    return 0


@_refusing
def cmd_smpp(args: argparse.Namespace) -> int:
    if args.delete:
        _run(lambda admin: admin.delete_smpp_credential(args.name, args.system_id))
        print(f"system_id {args.system_id!r} deleted")
        return 0
    _run(
        lambda admin: admin.put_smpp_credential(
            args.name,
            args.system_id,
            password=args.password,
            allowed_networks=args.allow,
            max_binds=args.max_binds,
            throughput=args.throughput,
        )
    )
    print(f"account {args.name!r} binds as system_id {args.system_id!r}")
    return 0


@_refusing
def cmd_number(args: argparse.Namespace) -> int:
    if args.remove:
        _run(lambda admin: admin.remove_number(args.name, args.number))
        print(f"{args.number} removed from account {args.name!r}")
        return 0
    assigned = _run(lambda admin: admin.add_number(args.name, args.number))
    print(f"inbound messages to {assigned.number} go to account {args.name!r}")
    return 0


def _limit_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rate-limit", type=_limit, nargs=1, metavar="SEG/S", help="segments/s; 'none': no limit"
    )
    parser.add_argument("--daily-quota", type=_limit, nargs=1, metavar="SEGMENTS")
    parser.add_argument("--spend-cap", type=_limit, nargs=1, metavar="AMOUNT", help="per month")
    parser.add_argument("--price", type=_limit, nargs=1, help="per segment; 'none': the route's")
    parser.add_argument(
        "--senders",
        nargs="*",
        metavar="SENDER",
        help="allowed sender IDs (a trailing * matches a prefix); none given: any",
    )


def add_commands(sub: Any) -> None:
    """`accounts ...` and `keys create` on the top-level parser's subparsers."""
    accounts = sub.add_parser("accounts", help="manage accounts")
    actions = accounts.add_subparsers(dest="action", required=True, metavar="ACTION")

    create = actions.add_parser("create", help="create an account; prints its id")
    create.add_argument("name")
    _limit_options(create)
    create.set_defaults(func=cmd_create)

    actions.add_parser("list", help="list accounts").set_defaults(func=cmd_list)

    show = actions.add_parser("show", help="an account's limits, usage, keys, binds, numbers")
    show.add_argument("name", help="account name or id")
    show.set_defaults(func=cmd_show)

    limits = actions.add_parser("limits", help="change limits, senders, price or status")
    limits.add_argument("name", help="account name or id")
    _limit_options(limits)
    status = limits.add_mutually_exclusive_group()
    status.add_argument("--suspend", action="store_true")
    status.add_argument("--activate", action="store_true")
    limits.set_defaults(func=cmd_limits)

    keys = actions.add_parser("keys", help="API keys of an account")
    key_actions = keys.add_subparsers(dest="key_action", required=True, metavar="ACTION")
    key_create = key_actions.add_parser("create", help="create a key; prints it once")
    key_create.add_argument("account", help="account name or id")
    key_create.set_defaults(func=cmd_keys_create)
    key_list = key_actions.add_parser("list", help="list keys by prefix")
    key_list.add_argument("account")
    key_list.set_defaults(func=cmd_keys_list)
    key_revoke = key_actions.add_parser("revoke", help="revoke a key by its prefix")
    key_revoke.add_argument("account")
    key_revoke.add_argument("prefix", help="as `keys list` shows it (gw_xxxxxx)")
    key_revoke.set_defaults(func=cmd_keys_revoke)

    smpp = actions.add_parser(
        "smpp", help="create or change an account's SMPP credentials (or --delete them)"
    )
    smpp.add_argument("name", help="account name or id")
    smpp.add_argument("--system-id", required=True)
    smpp.add_argument("--password", help="at most 8 characters (SMPP 3.4); needed to create")
    smpp.add_argument("--max-binds", type=int)
    smpp.add_argument("--throughput", type=float, help="segments/s; 0: no limit")
    smpp.add_argument(
        "--allow", action="append", metavar="CIDR", help="allowed source network (repeat)"
    )
    smpp.add_argument("--delete", action="store_true")
    smpp.set_defaults(func=cmd_smpp)

    number = actions.add_parser(
        "number", help="assign a number (or short code) to an account for inbound messages"
    )
    number.add_argument("name", help="account name or id")
    number.add_argument("number", help="+E.164 number or short code")
    number.add_argument("--remove", action="store_true")
    number.set_defaults(func=cmd_number)

    top_keys = sub.add_parser("keys", help="manage API keys (also: accounts keys ...)")
    top_actions = top_keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    top_create = top_actions.add_parser("create", help="create an API key; prints it once")
    top_create.add_argument("account", help="account name")
    top_create.set_defaults(func=cmd_keys_create)
