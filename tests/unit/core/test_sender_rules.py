"""Sender ID rules: per-country configuration and the account's allowed senders."""

from __future__ import annotations

import pytest

from gateway.config import load_settings
from gateway.domain import ConfigError
from gateway.domain.accounts import sender_allowed, sender_registered


def test_defaults_and_overrides_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATEWAY_SENDER_RULES", raising=False)
    defaults = load_settings().sender_rules
    assert defaults.numeric_only == ("US", "CA")
    assert "IN" in defaults.registered_alphanumeric
    monkeypatch.setenv("GATEWAY_SENDER_RULES", '{"numeric_only": ["us", "mx"]}')
    rules = load_settings().sender_rules
    assert rules.numeric_only == ("US", "MX")
    assert rules.registered_alphanumeric == defaults.registered_alphanumeric


def test_unknown_country_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_SENDER_RULES", '{"registered_alphanumeric": ["XX"]}')
    with pytest.raises(ConfigError, match=r"GATEWAY_SENDER_RULES.*XX"):
        load_settings()


def test_allowed_senders_exact_and_prefix_patterns() -> None:
    patterns = ("Acme", "Promo*")
    assert sender_allowed((), "Anything")
    assert sender_allowed(patterns, "ACME") and sender_allowed(patterns, "promo-7")
    assert not sender_allowed(patterns, "Acme2") and not sender_allowed(patterns, "Prom")
    # Registration means listed as such: a pattern does not register every sender it admits.
    assert sender_registered(patterns, "acme") and not sender_registered(patterns, "Promo1")
