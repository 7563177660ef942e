"""Routing: which connectors carry a message, in failover order, and at what price.

Rules are tried in order and the first that matches wins; a rule with no conditions matches
everything, and when none matches the default route (the configured upstream) is used. A rule
matches when every condition it sets holds (AND across conditions, OR within one list):

- `accounts`: account ids or names;
- `prefixes`: E.164 prefixes of the destination (`+4915`);
- `countries`: ISO 3166 regions of the destination (`DE`), from libphonenumber's numbering plan;
- `carriers`: the destination's original network by libphonenumber's prefix data
  (`Vodafone`, case-insensitive). Ported numbers keep their original carrier here: routing by the
  serving network needs an MNP/HLR lookup, which this module does not do;
- `senders`: sender ids (exact, case-insensitive; a trailing `*` matches a prefix);
- `message_types`: `otp`, `transactional`, `promotional`.

Routing is pure and cached per destination for the number lookups; it runs at intake (the route's
first connector and price are stored with the message) and again in dispatch when a connector
fails and the next one of the route takes over.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import phonenumbers
from phonenumbers import carrier as phone_carrier
from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.domain import ConfigError

_MESSAGE_TYPES = frozenset({"otp", "transactional", "promotional"})


class RouteRule(BaseModel):
    """One routing rule as configured (`[[routes]]` in the config file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    connectors: tuple[str, ...] = Field(min_length=1, description="in failover order")
    price: float = Field(default=0.0, ge=0, description="per segment, in the account currency")
    accounts: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    carriers: tuple[str, ...] = ()
    senders: tuple[str, ...] = ()
    message_types: tuple[str, ...] = ()

    @field_validator("prefixes")
    @classmethod
    def _prefixes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for prefix in value:
            digits = prefix.strip().removeprefix("+")
            if not digits.isdigit():
                raise ValueError(f"prefix {prefix!r} is not +<digits>")
            out.append("+" + digits)
        return tuple(out)

    @field_validator("countries")
    @classmethod
    def _countries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        regions = phonenumbers.SUPPORTED_REGIONS
        upper = tuple(c.strip().upper() for c in value)
        if unknown := [c for c in upper if c not in regions]:
            raise ValueError(f"unknown country code(s): {', '.join(unknown)}")
        return upper

    @field_validator("message_types")
    @classmethod
    def _types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if unknown := sorted(set(value) - _MESSAGE_TYPES):
            raise ValueError(f"unknown message type(s): {', '.join(unknown)}")
        return value

    @field_validator("carriers", "senders")
    @classmethod
    def _casefold(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.strip().casefold() for v in value)


@dataclass(frozen=True, slots=True)
class Route:
    connectors: tuple[str, ...]  # in failover order
    price: float = 0.0  # per segment
    name: str = "default"

    def after(self, connector: str) -> tuple[str, ...]:
        """The connectors to try when `connector` fails: the rest of the list, then its start
        (a part routed to the second connector whose first has recovered may go back to it)."""
        if connector not in self.connectors:
            return self.connectors
        i = self.connectors.index(connector)
        return self.connectors[i + 1 :] + self.connectors[:i]


@dataclass(frozen=True, slots=True)
class _Destination:
    region: str
    carrier: str


@functools.lru_cache(maxsize=65_536)
def _describe(destination: str) -> _Destination:
    try:
        number = phonenumbers.parse(destination, None)
    except phonenumbers.NumberParseException:
        return _Destination("", "")
    region = phonenumbers.region_code_for_number(number) or ""
    name = phone_carrier.name_for_number(number, "en") or ""
    return _Destination(region, name.casefold())


def destination_region(destination: str) -> str:
    """The ISO 3166 region of an E.164 number ("" when unknown), from the cached lookup."""
    return _describe(destination).region


def _sender_matches(patterns: Sequence[str], sender: str) -> bool:
    folded = sender.casefold()
    return any(folded.startswith(p[:-1]) if p.endswith("*") else folded == p for p in patterns)


class Router:
    def __init__(
        self,
        *,
        default: str,
        rules: Iterable[RouteRule] = (),
        default_price: float = 0.0,
        account_names: Mapping[str, str] | None = None,
    ) -> None:
        self._default = Route(connectors=(default,), price=default_price)
        self.update(rules=rules, account_names=account_names or {})

    def update(self, *, rules: Iterable[RouteRule], account_names: Mapping[str, str]) -> None:
        """Replace the rules (an admin change reloaded by every node); the next `route` call
        uses the new ones. One assignment each, so a concurrent `route` sees old or new."""
        rules = tuple(rules)
        routes = {
            id(rule): Route(rule.connectors, rule.price, rule.name or f"rule{i + 1}")
            for i, rule in enumerate(rules)
        }
        # Account conditions may name accounts; they are matched by id or by name.
        self._account_names = dict(account_names)
        self._routes = routes
        self._rules = rules

    @property
    def connectors(self) -> set[str]:
        """Every connector a route names."""
        return {c for rule in self._rules for c in rule.connectors} | set(self._default.connectors)

    def check(self, known: Iterable[str]) -> None:
        """Refuse a configuration whose routes name connectors that do not exist."""
        missing = self.connectors - set(known)
        if missing:
            raise ConfigError(f"routes name unknown connector(s): {', '.join(sorted(missing))}")

    def set_account_name(self, account_id: str, name: str) -> None:
        self._account_names[account_id] = name

    def route(
        self, *, account_id: str, destination: str, message_type: str, source: str = ""
    ) -> Route:
        for rule in self._rules:
            if self._matches(rule, account_id, destination, message_type, source):
                return self._routes[id(rule)]
        return self._default

    def _matches(
        self, rule: RouteRule, account_id: str, destination: str, message_type: str, source: str
    ) -> bool:
        if rule.message_types and message_type not in rule.message_types:
            return False
        if rule.accounts and not (
            account_id in rule.accounts or self._account_names.get(account_id) in rule.accounts
        ):
            return False
        if rule.prefixes and not destination.startswith(rule.prefixes):
            return False
        if rule.senders and not _sender_matches(rule.senders, source):
            return False
        if rule.countries or rule.carriers:
            described = _describe(destination)
            if rule.countries and described.region not in rule.countries:
                return False
            if rule.carriers and described.carrier not in rule.carriers:
                return False
        return True


def price_for(per_segment: float | None, segments: int) -> float | None:
    """What a message costs: its route's price per segment times its segments (rounded to
    a millionth, so float sums never show as 0.30000000000000004)."""
    return None if per_segment is None else round(per_segment * segments, 6)
