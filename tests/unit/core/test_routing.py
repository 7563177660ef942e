"""Routing rules: first match wins, every condition must hold, failover order, prices."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.domain import ConfigError
from gateway.routing import Route, Router, RouteRule

DE_TMOBILE = "+4915112345678"
DE_O2 = "+4917612345678"
FR_SFR = "+33612345678"
EG_VODAFONE = "+201001234567"


def _router(*rules: dict[str, object], names: dict[str, str] | None = None) -> Router:
    return Router(
        default="default",
        rules=[RouteRule.model_validate(r) for r in rules],
        default_price=0.01,
        account_names=names,
    )


def _route(router: Router, to: str, **kwargs: str) -> Route:
    return router.route(
        account_id=kwargs.get("account", "acc1"),
        destination=to,
        message_type=kwargs.get("type", "transactional"),
        source=kwargs.get("source", "Acme"),
    )


def test_no_rule_matches_the_default_route_is_used_with_its_price() -> None:
    router = _router({"prefixes": ["+33"], "connectors": ["fr"]})
    route = _route(router, DE_TMOBILE)
    assert (route.connectors, route.price, route.name) == (("default",), 0.01, "default")


def test_first_matching_rule_wins_in_order() -> None:
    router = _router(
        {"name": "de-otp", "prefixes": ["+49"], "message_types": ["otp"], "connectors": ["a"]},
        {"name": "de", "prefixes": ["+49"], "connectors": ["b", "c"], "price": 0.05},
    )
    assert _route(router, DE_TMOBILE, type="otp").name == "de-otp"
    route = _route(router, DE_TMOBILE, type="promotional")
    assert (route.name, route.connectors, route.price) == ("de", ("b", "c"), 0.05)


def test_country_and_carrier_come_from_the_numbering_plan() -> None:
    router = _router(
        {"countries": ["de"], "carriers": ["T-Mobile"], "connectors": ["tmo"]},
        {"countries": ["DE"], "connectors": ["de"]},
        {"carriers": ["vodafone"], "connectors": ["voda"]},
    )
    assert _route(router, DE_TMOBILE).connectors == ("tmo",)
    assert _route(router, DE_O2).connectors == ("de",)
    assert _route(router, EG_VODAFONE).connectors == ("voda",)
    assert _route(router, FR_SFR).connectors == ("default",)


def test_accounts_match_by_id_or_by_name_and_senders_by_prefix() -> None:
    router = _router(
        {"accounts": ["acme"], "senders": ["bank*"], "connectors": ["secure"]},
        {"accounts": ["acc2"], "connectors": ["two"]},
        names={"acc1": "acme"},
    )
    assert _route(router, FR_SFR, source="BankOfX").connectors == ("secure",)
    assert _route(router, FR_SFR, source="Shop").connectors == ("default",)
    assert _route(router, FR_SFR, account="acc2").connectors == ("two",)


def test_failover_order_continues_after_the_failed_connector_and_wraps() -> None:
    route = Route(connectors=("a", "b", "c"))
    assert route.after("a") == ("b", "c")
    assert route.after("b") == ("c", "a")
    assert route.after("elsewhere") == ("a", "b", "c")


@pytest.mark.parametrize(
    "rule",
    [
        {"connectors": []},
        {"connectors": ["a"], "prefixes": ["49x"]},
        {"connectors": ["a"], "countries": ["XX"]},
        {"connectors": ["a"], "message_types": ["spam"]},
        {"connectors": ["a"], "price": -1},
        {"connectors": ["a"], "typo": 1},
    ],
)
def test_bad_rules_are_refused_with_a_reason(rule: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        RouteRule.model_validate(rule)


def test_routes_naming_unknown_connectors_are_refused() -> None:
    router = _router({"connectors": ["a", "ghost"]})
    with pytest.raises(ConfigError, match="ghost"):
        router.check(["default", "a"])
