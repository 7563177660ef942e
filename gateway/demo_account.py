"""The demo account that `make run` starts with: its API key (GATEWAY_DEMO_KEY, or a new one
printed at start) and its SMPP bind (system_id `demo`, GATEWAY_DEMO_SMPP_PASSWORD or a random
password printed at start)."""

from __future__ import annotations

import asyncio
import secrets
import time

from pydantic import SecretStr

from gateway.domain import SmppCredential, new_id
from gateway.keys import KeyAuthenticator, display_prefix, find_key, hash_key
from gateway.passwords import hash_password
from gateway.store import Store

DEMO_ACCOUNT = "demo"


async def ensure_demo_account(store: Store, configured: SecretStr | None) -> str:
    """The demo account and its API key: the configured one, or a new one printed at start."""
    account = await store.get_account_by_name(DEMO_ACCOUNT)
    if account is None:
        account = await store.create_account(
            account_id=new_id(), name=DEMO_ACCOUNT, now=time.time()
        )
    if configured is not None:
        key = configured.get_secret_value()
        found = await find_key(store, key)
        existing = None if found is None else found[1]
        if existing is None:
            stored = await asyncio.to_thread(hash_key, key)
            await store.add_api_key(
                account_id=account.id, key_hash=stored, prefix=display_prefix(key), now=time.time()
            )
        elif existing.id != account.id:
            raise RuntimeError("GATEWAY_DEMO_KEY belongs to another account")
        return key
    return await KeyAuthenticator(store=store).create_key(account_id=account.id)


async def ensure_demo_smpp(store: Store, configured: SecretStr | None) -> str:
    """The demo account binds as system_id `demo`; the password is set at every start."""
    account = await store.get_account_by_name(DEMO_ACCOUNT)
    assert account is not None
    # SMPP 3.4 passwords are at most 8 octets (§4.1.1).
    password = configured.get_secret_value() if configured else secrets.token_hex(4)
    credential = SmppCredential(
        system_id=DEMO_ACCOUNT, account_id=account.id, password_hash=hash_password(password)
    )
    await store.add_smpp_credential(credential, now=time.time())
    return password
