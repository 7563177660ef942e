"""The pure parts of run-time connectors: which options are secrets, how stored rows and the
configuration combine, and the checks a definition passes on either path."""

from __future__ import annotations

import json

import pytest

from gateway.config import check_connector_table, connector_options
from gateway.connector import ConnectorRegistry
from gateway.connector_set import ConnectorSet, ConnectorSpec, is_secret, redact
from gateway.domain.accounts import StoredConnector


def test_secrets_are_left_out_at_any_depth_and_named() -> None:
    options = {
        "host": "smsc.example",
        "password": "pw",
        "headers": {"Authorization": "Bearer t", "Accept": "application/json"},
        "callback": {"secret": "s" * 16, "secret_header": "X-Secret", "signature_secret": "x"},
        "api_key": "k",
    }
    public, secrets = redact(options)
    assert public == {
        "host": "smsc.example",
        "headers": {"Accept": "application/json"},
        "callback": {"secret_header": "X-Secret"},
    }
    assert sorted(secrets) == [
        "api_key",
        "callback.secret",
        "callback.signature_secret",
        "headers.Authorization",
        "password",
    ]
    assert "pw" not in json.dumps(public) and "Bearer" not in json.dumps(public)


@pytest.mark.parametrize("name", ["password", "PASSWORD", "bind_password", "token", "x_key"])
def test_secret_names(name: str) -> None:
    assert is_secret(name)


@pytest.mark.parametrize("name", ["host", "secret_header", "signature_header", "keepalive"])
def test_not_secret_names(name: str) -> None:
    assert not is_secret(name)


@pytest.mark.parametrize(
    ("name", "table", "message"),
    [
        ("simulator", {"kind": "smpp"}, "default route"),
        ("upstream", {"kind": "smpp"}, "default route"),
        ("b", {}, "needs a kind"),
        ("b", {"kind": "smpp", "rate": -1}, "rate"),
        ("b", {"kind": "smpp", "rate": True}, "rate"),
        ("b", {"kind": "smpp", "rate": float("inf")}, "rate"),
        ("a b", {"kind": "smpp"}, "a name is"),
        ("", {"kind": "smpp"}, "a name is"),
    ],
)
def test_a_bad_definition_is_refused_on_both_paths(
    name: str, table: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        check_connector_table(name, table)


def test_options_are_the_table_without_kind_and_rate() -> None:
    assert connector_options({"kind": "smpp", "rate": 5, "host": "h"}) == {"host": "h"}


def _row(
    name: str, source: str = "admin", *, enabled: bool = True, options: str = "{}"
) -> StoredConnector:
    return StoredConnector(name, source, "smpp", options, 2.0, enabled, 1.0, 2.0)


def test_the_store_stops_configured_connectors_and_adds_its_own() -> None:
    connectors = ConnectorSet(
        registry=ConnectorRegistry(),
        config=[ConnectorSpec(name="simulator", kind="smpp", options={"port": 1})],
        default="simulator",
    )
    specs = connectors.desired(
        [
            _row("simulator", "config", enabled=False),
            _row("b", options='{"host": "h"}'),
            _row("gone", "config"),  # a stop of a connector no longer configured
            _row("broken", options="{not json"),
        ]
    )
    assert [(s.name, s.source, s.enabled) for s in specs] == [
        ("simulator", "config", False),
        ("b", "admin", True),
    ]
    # The configured one keeps the file's definition; the stored one is the row's.
    assert specs[0].options == {"port": 1} and specs[0].rate == 0.0
    assert specs[1].options == {"host": "h"} and specs[1].rate == 2.0


def test_a_change_of_timestamps_alone_is_not_a_change() -> None:
    a = ConnectorSpec(name="b", kind="smpp", options={"x": 1}, updated_at=1.0)
    assert a.same_connector(ConnectorSpec(name="b", kind="smpp", options={"x": 1}, updated_at=2))
    assert not a.same_connector(ConnectorSpec(name="b", kind="smpp", options={"x": 2}))
    assert not a.same_connector(ConnectorSpec(name="b", kind="smpp", options={"x": 1}, rate=1))
    assert not a.same_connector(
        ConnectorSpec(name="b", kind="smpp", options={"x": 1}, enabled=False)
    )
