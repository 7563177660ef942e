"""The opt-out part of the Store contract, on SQLite and PostgreSQL."""

from __future__ import annotations

from gateway.domain import InboundPart, MessageType, new_id
from gateway.domain.optout import OptOutSettings, QuietHours
from gateway.inbound import MO_TTL, assemble
from gateway.store import Store

NOW = 1_700_000_000.0
OUR_NUMBER = "+4930123456789"
HANDSET = "+4915112345678"


async def _account(store: Store, name: str = "acme") -> str:
    account_id = new_id()
    await store.create_account(account_id=account_id, name=name, now=NOW)
    return account_id


async def test_suppressions_add_check_remove_and_move_the_version(store: Store) -> None:
    account_id = await _account(store)
    other = await _account(store, "other")
    assert await store.optout_version(account_id) == 0
    await store.add_suppressions(
        account_id=account_id, numbers=[HANDSET], reason="asked", source="api", now=NOW
    )
    found = await store.get_suppression(account_id=account_id, number=HANDSET)
    assert found is not None and (found.reason, found.source) == ("asked", "api")
    assert await store.get_suppression(account_id=other, number=HANDSET) is None
    assert await store.optout_version(account_id) == 1
    assert await store.optout_version(other) == 0

    # Adding again keeps the entry and its time; a new reason replaces the old, none keeps it.
    await store.add_suppressions(
        account_id=account_id, numbers=[HANDSET], reason=None, source="admin", now=NOW + 5
    )
    again = await store.get_suppression(account_id=account_id, number=HANDSET)
    assert again is not None and again.reason == "asked" and again.created_at == NOW
    assert await store.optout_version(account_id) == 2

    assert await store.remove_suppression(account_id=account_id, number=HANDSET, now=NOW)
    assert not await store.remove_suppression(account_id=account_id, number=HANDSET, now=NOW)
    assert await store.get_suppression(account_id=account_id, number=HANDSET) is None
    assert await store.optout_version(account_id) == 3


async def test_list_is_keyset_paginated_in_number_order(store: Store) -> None:
    account_id = await _account(store)
    numbers = [f"+491511234{i:04d}" for i in range(25)]
    await store.add_suppressions(
        account_id=account_id, numbers=numbers[::-1], reason=None, source="api", now=NOW
    )
    seen: list[str] = []
    after = ""
    while True:
        page = await store.list_suppressions(account_id=account_id, after=after, limit=10)
        if not page:
            break
        seen += [s.number for s in page]
        after = page[-1].number
    assert seen == numbers
    assert await store.suppressed_among(
        account_id=account_id, numbers=[numbers[3], HANDSET, numbers[7]]
    ) == {numbers[3], numbers[7]}


async def test_load_optout_reads_version_settings_and_a_bounded_list(store: Store) -> None:
    account_id = await _account(store)
    assert await store.load_optout(account_id=account_id, max_numbers=10) == (0, None, [])
    settings = OptOutSettings(
        enforce=frozenset({MessageType.PROMOTIONAL, MessageType.TRANSACTIONAL}),
        quiet_hours=QuietHours(start=22 * 60, end=7 * 60),
        stop_reply="Bye from Acme",
    )
    await store.put_optout_settings(account_id=account_id, settings=settings, now=NOW)
    assert await store.optout_settings(account_id) == settings
    await store.add_suppressions(
        account_id=account_id,
        numbers=[HANDSET, "+4915112345679"],
        reason=None,
        source="api",
        now=NOW,
    )
    version, loaded, numbers = await store.load_optout(account_id=account_id, max_numbers=10)
    assert version == 2 and loaded == settings
    assert sorted(numbers or []) == [HANDSET, "+4915112345679"]
    # Beyond the bound the list is not returned: the caller asks per batch instead.
    assert (await store.load_optout(account_id=account_id, max_numbers=1))[2] is None


def _mo(text: str, source: str = HANDSET[1:], at: float = NOW) -> InboundPart:
    return InboundPart(source, OUR_NUMBER, "ucs2", 8, text.encode("utf-16-be"), "c", at)


async def test_a_stop_mo_suppresses_its_sender_in_the_same_transaction(store: Store) -> None:
    account_id = await _account(store)
    await store.add_number(number=OUR_NUMBER, account_id=account_id, now=NOW)
    record = await store.add_inbound_part(_mo(" توقف "), assemble=assemble, mo_ttl=MO_TTL)
    assert record is not None and record.account_id == account_id
    found = await store.get_suppression(account_id=account_id, number=HANDSET)
    assert found is not None and found.source == "keyword" and found.reason == "keyword توقف"
    assert await store.optout_version(account_id) == 1

    # HELP and ordinary texts change nothing; START removes the number again.
    await store.add_inbound_part(_mo("HELP", at=NOW + 1), assemble=assemble, mo_ttl=MO_TTL)
    await store.add_inbound_part(_mo("stop it", at=NOW + 2), assemble=assemble, mo_ttl=MO_TTL)
    assert await store.optout_version(account_id) == 1
    await store.add_inbound_part(_mo("Start", at=NOW + 3), assemble=assemble, mo_ttl=MO_TTL)
    assert await store.get_suppression(account_id=account_id, number=HANDSET) is None
    assert await store.optout_version(account_id) == 2


async def test_a_stop_to_a_number_no_account_owns_changes_nothing(store: Store) -> None:
    account_id = await _account(store)
    record = await store.add_inbound_part(_mo("STOP"), assemble=assemble, mo_ttl=MO_TTL)
    assert record is not None and record.account_id is None
    assert await store.optout_version(account_id) == 0


async def test_account_exists(store: Store) -> None:
    account_id = await _account(store)
    assert await store.account_exists(account_id)
    assert not await store.account_exists("nope")
