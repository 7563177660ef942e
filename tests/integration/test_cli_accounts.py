"""`python -m gateway accounts ...`: the admin operations from a shell, on the same service as
the REST admin API."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.domain.accounts import AccountSettings
from gateway.keys import find_key
from gateway.store import open_store


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    for name in list(os.environ):
        if name.startswith("GATEWAY_"):
            monkeypatch.delenv(name)
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("GATEWAY_DATABASE_URL", url)
    return url


def _account(url: str, name: str) -> AccountSettings | None:
    async def read() -> AccountSettings | None:
        store = open_store(url)
        await store.open()
        try:
            return await store.get_account_settings(name)
        finally:
            await store.close()

    return asyncio.run(read())


def _key_works(url: str, key: str) -> bool:
    async def read() -> bool:
        store = open_store(url)
        await store.open()
        try:
            return await find_key(store, key) is not None
        finally:
            await store.close()

    return asyncio.run(read())


def test_accounts_commands(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["accounts", "create", "acme", "--rate-limit", "20", "--senders", "Acme"]) == 0
    account_id = capsys.readouterr().out.strip()
    settings = _account(database, "acme")
    assert settings is not None and settings.id == account_id
    assert settings.rate_limit == 20 and settings.allowed_senders == ("Acme",)

    assert main(["accounts", "create", "acme"]) == 1
    assert "account.exists" in capsys.readouterr().err

    assert main(["accounts", "keys", "create", "acme"]) == 0
    key = capsys.readouterr().out.strip()
    assert key.startswith("gw_") and _key_works(database, key)
    assert main(["keys", "create", "acme"]) == 0  # the older spelling
    other_key = capsys.readouterr().out.strip()

    assert main(["accounts", "keys", "list", "acme"]) == 0
    listed = capsys.readouterr().out
    assert key[:9] in listed and other_key[:9] in listed and key not in listed

    assert main(["accounts", "keys", "revoke", "acme", key[:9]]) == 0
    capsys.readouterr()
    assert not _key_works(database, key) and _key_works(database, other_key)

    assert main(
        ["accounts", "limits", "acme", "--daily-quota", "5000", "--spend-cap", "100",
         "--rate-limit", "none", "--suspend"]
    ) == 0  # fmt: skip
    capsys.readouterr()
    settings = _account(database, "acme")
    assert settings is not None
    assert (settings.daily_quota, settings.spend_cap, settings.rate_limit) == (5000, 100, 0)
    assert not settings.active

    assert main(["accounts", "smpp", "acme", "--system-id", "acme", "--password", "pw1"]) == 0
    assert main(["accounts", "number", "acme", "+4930123456789"]) == 0
    capsys.readouterr()
    assert main(["accounts", "show", "acme"]) == 0
    shown = capsys.readouterr().out
    assert "SUSPENDED" in shown and "5000 segments/day" in shown
    assert "smpp      acme" in shown and "number    +4930123456789" in shown
    assert f"{key[:9]}... revoked" in shown

    assert main(["accounts", "list"]) == 0
    assert "acme" in capsys.readouterr().out
    assert main(["accounts", "show", "nobody"]) == 1
    assert "account.not_found" in capsys.readouterr().err
