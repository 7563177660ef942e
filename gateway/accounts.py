"""Account administration: the one service behind the REST admin API and the CLI.

Accounts and their limits, API keys, SMPP credentials, inbound numbers and the routing rules
kept in the store. Every write bumps the store's config version; `on_change` (the node's
refresher) applies it here at once, and the other nodes within their refresh interval.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import math
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from gateway.domain import SmppCredential, new_id
from gateway.domain.accounts import (
    AccountSettings,
    ApiKeyInfo,
    InboundNumber,
    StoredRoute,
    Usage,
    usage_day,
)
from gateway.domain.errors import (
    AccountNotFound,
    InvalidNumber,
    KeyNotFound,
    KeyPrefixAmbiguous,
    NumberNotFound,
    NumberTaken,
    RouteInvalid,
    RouteNotFound,
    SmppCredentialNotFound,
    SmppSystemIdTaken,
    ValidationFailed,
)
from gateway.keys import display_prefix, generate_key, hash_key
from gateway.passwords import hash_password
from gateway.phone import normalize_e164
from gateway.routing import RouteRule
from gateway.store import Store

# What `update_account` may change.
ACCOUNT_FIELDS = frozenset(
    {"name", "active", "rate_limit", "daily_quota", "spend_cap", "allowed_senders", "price"}
)


@dataclass(frozen=True, slots=True)
class ListedRoute:
    source: Literal["admin", "config"]
    position: int
    rule: RouteRule


class AccountAdmin:
    def __init__(
        self,
        *,
        store: Store,
        connectors: Collection[str] | None = None,
        config_rules: Sequence[RouteRule] = (),
        on_change: Callable[[], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        # None (the CLI): connectors are not known here, so route rules are not checked.
        # Otherwise read at each check: connectors are added and removed at run time.
        self._connectors = connectors
        self._config_rules = tuple(config_rules)
        self._on_change = on_change
        self._clock = clock

    async def _changed(self) -> None:
        if self._on_change is not None:
            await self._on_change()

    # -- accounts ---------------------------------------------------------------------------

    async def create_account(self, name: str, **limits: Any) -> AccountSettings:
        now = self._clock()
        settings = _apply(
            AccountSettings(id=new_id(), name=name, created_at=now, updated_at=now), limits
        )
        await self._store.insert_account(settings)
        await self._changed()
        return settings

    async def list_accounts(self) -> list[AccountSettings]:
        return await self._store.list_account_settings()

    async def get_account(self, account: str) -> AccountSettings:
        """By id or name."""
        found = await self._store.get_account_settings(account)
        if found is None:
            raise AccountNotFound(f"no account {account!r}")
        return found

    async def update_account(self, account: str, **changes: Any) -> AccountSettings:
        current = await self.get_account(account)
        updated = _apply(current, {**changes, "updated_at": self._clock()})
        await self._store.update_account(updated)
        await self._changed()
        return updated

    async def usage(self, account_id: str) -> Usage:
        """Segments today and spend this month (UTC), as committed."""
        day = usage_day(self._clock())
        return (await self._store.account_usage(day=day)).get(account_id, Usage())

    # -- API keys ---------------------------------------------------------------------------

    async def create_key(self, account: str) -> tuple[str, ApiKeyInfo]:
        """A new key for the account: (the plain key, shown only now; what is kept of it)."""
        owner = await self.get_account(account)
        key, now = generate_key(), self._clock()
        prefix = display_prefix(key)
        stored = await asyncio.to_thread(hash_key, key)  # scrypt: not on the event loop
        await self._store.add_api_key(account_id=owner.id, key_hash=stored, prefix=prefix, now=now)
        # A node may have cached "no such key" for it: new keys reset the caches too.
        await self._store.bump_config_version()
        await self._changed()
        return key, ApiKeyInfo(prefix=prefix, created_at=now)

    async def list_keys(self, account: str) -> list[ApiKeyInfo]:
        return await self._store.list_api_keys((await self.get_account(account)).id)

    async def revoke_key(self, account: str, prefix: str) -> None:
        owner = await self.get_account(account)
        active = [
            k
            for k in await self._store.list_api_keys(owner.id)
            if k.prefix == prefix and k.revoked_at is None
        ]
        if not active:
            raise KeyNotFound(f"no active key with prefix {prefix!r} in account {owner.name!r}")
        if len(active) > 1:
            raise KeyPrefixAmbiguous(
                f"{len(active)} active keys start with {prefix!r}; revoking them needs the "
                "account suspended or each key told apart",
            )
        await self._store.revoke_api_keys(account_id=owner.id, prefix=prefix, now=self._clock())
        await self._changed()

    # -- SMPP credentials -------------------------------------------------------------------

    async def put_smpp_credential(
        self,
        account: str,
        system_id: str,
        *,
        password: str | None = None,
        allowed_networks: Sequence[str] | None = None,
        max_binds: int | None = None,
        throughput: float | None = None,
    ) -> tuple[SmppCredential, bool]:
        """Create the credential or change what is given of it; (credential, created)."""
        owner = await self.get_account(account)
        if not 1 <= len(system_id) <= 15:
            raise ValidationFailed("system_id: 1 to 15 characters (SMPP 3.4 §5.2.1)")
        if password is not None and not 1 <= len(password.encode()) <= 8:
            raise ValidationFailed("password: 1 to 8 characters (SMPP 3.4 §5.2.2)")
        existing = await self._store.smpp_credential(system_id)
        if existing is not None and existing.account_id != owner.id:
            raise SmppSystemIdTaken(f"system_id {system_id!r} belongs to another account")
        if existing is None and password is None:
            raise ValidationFailed("password: required to create a credential")
        base = existing or SmppCredential(
            system_id=system_id, account_id=owner.id, password_hash=""
        )
        credential = dataclasses.replace(
            base,
            password_hash=hash_password(password) if password is not None else base.password_hash,
            allowed_networks=(
                _networks(allowed_networks)
                if allowed_networks is not None
                else base.allowed_networks
            ),
            max_binds=max_binds if max_binds is not None else base.max_binds,
            throughput=throughput if throughput is not None else base.throughput,
        )
        await self._store.add_smpp_credential(credential, now=self._clock())
        await self._store.bump_config_version()
        await self._changed()
        return credential, existing is None

    async def list_smpp_credentials(self, account: str) -> list[SmppCredential]:
        return await self._store.list_smpp_credentials((await self.get_account(account)).id)

    async def delete_smpp_credential(self, account: str, system_id: str) -> None:
        owner = await self.get_account(account)
        if not await self._store.delete_smpp_credential(account_id=owner.id, system_id=system_id):
            raise SmppCredentialNotFound(f"no system_id {system_id!r} in account {owner.name!r}")
        await self._changed()

    # -- inbound numbers --------------------------------------------------------------------

    async def add_number(self, account: str, number: str) -> InboundNumber:
        owner = await self.get_account(account)
        number = normalize_number(number)
        current = await self._store.number_owner(number)
        if current is not None and current != owner.id:
            raise NumberTaken(f"{number} belongs to another account; remove it there first")
        now = self._clock()
        await self._store.add_number(number=number, account_id=owner.id, now=now)
        await self._store.bump_config_version()
        await self._changed()
        return InboundNumber(number=number, account_id=owner.id, created_at=now)

    async def list_numbers(self, account: str) -> list[InboundNumber]:
        return await self._store.list_numbers((await self.get_account(account)).id)

    async def remove_number(self, account: str, number: str) -> None:
        owner = await self.get_account(account)
        number = normalize_number(number)
        if not await self._store.delete_number(account_id=owner.id, number=number):
            raise NumberNotFound(f"{number} is not a number of account {owner.name!r}")
        await self._changed()

    # -- routes -----------------------------------------------------------------------------

    async def list_routes(self) -> list[ListedRoute]:
        """Stored rules (tried first, by position) then the configuration file's, in order."""
        listed = []
        for stored in await self._store.list_stored_routes():
            try:
                rule = RouteRule.model_validate_json(stored.rule)
            except ValidationError:
                continue
            listed.append(ListedRoute("admin", stored.position, rule))
        listed += [ListedRoute("config", i, r) for i, r in enumerate(self._config_rules)]
        return listed

    async def put_route(self, name: str, *, position: int = 0, **fields: Any) -> RouteRule:
        try:
            rule = RouteRule(name=name, **fields)
        except ValidationError as exc:
            detail = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise RouteInvalid(detail) from None
        if any(name == r.name for r in self._config_rules):
            raise RouteInvalid(f"route {name!r} is defined in the configuration file")
        if self._connectors is not None and (
            missing := set(rule.connectors) - set(self._connectors)
        ):
            raise RouteInvalid(f"unknown connector(s): {', '.join(sorted(missing))}")
        await self._store.put_route(
            StoredRoute(name, position, rule.model_dump_json(), self._clock())
        )
        await self._changed()
        return rule

    async def delete_route(self, name: str) -> None:
        if not await self._store.delete_route(name):
            raise RouteNotFound(f"no stored route {name!r}")
        await self._changed()


def normalize_number(number: str) -> str:
    """+E.164 (normalised) or a short code of digits."""
    value = number.strip()
    if value.startswith("+"):
        return normalize_e164(value)
    if value.isdigit() and 3 <= len(value) <= 8:
        return value
    raise InvalidNumber(f"{number!r} is neither a +E.164 number nor a short code of 3-8 digits")


def _networks(values: Sequence[str]) -> tuple[str, ...]:
    out = []
    for value in values:
        try:
            out.append(str(ipaddress.ip_network(value.strip(), strict=False)))
        except ValueError:
            raise ValidationFailed(f"allowed_networks: {value!r} is not a CIDR") from None
    return tuple(out)


def _apply(settings: AccountSettings, changes: Mapping[str, Any]) -> AccountSettings:
    if unknown := set(changes) - ACCOUNT_FIELDS - {"updated_at"}:
        raise ValidationFailed(f"unknown account field(s): {', '.join(sorted(unknown))}")
    values = dict(changes)
    if "allowed_senders" in values:
        senders = tuple(s.strip() for s in values["allowed_senders"] if s.strip())
        if bad := [s for s in senders if "," in s or len(s.rstrip("*")) > 15]:
            raise ValidationFailed(f"allowed_senders: not a sender ID or pattern: {bad[0]!r}")
        values["allowed_senders"] = senders
    for name in ("rate_limit", "daily_quota", "spend_cap", "price"):
        value = values.get(name)
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise ValidationFailed(f"{name}: must be a number >= 0")
    if values.get("rate_limit") is None and "rate_limit" in values:
        values["rate_limit"] = 0.0
    return dataclasses.replace(settings, **values)
