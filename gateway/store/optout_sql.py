"""SQL of suppression lists and opt-out settings, shared by both dialects (`?` placeholders;
PostgreSQL's mixin numbers them with `sql.numbered`)."""

from __future__ import annotations

from gateway.domain import InboundRecord
from gateway.domain.errors import InvalidNumber
from gateway.domain.keywords import KeywordAction, match_keyword
from gateway.domain.optout import OptOutSettings, Suppression
from gateway.phone import normalize_e164
from gateway.store.sql import Row

SUPPRESSION_COLUMNS = "number, reason, source, created_at"

UPSERT_SUPPRESSION = """
INSERT INTO suppressions (account_id, number, reason, source, created_at)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (account_id, number) DO UPDATE SET
    reason = COALESCE(excluded.reason, suppressions.reason), source = excluded.source
"""

DELETE_SUPPRESSION = "DELETE FROM suppressions WHERE account_id = ? AND number = ?"

# Every change to a list or to the settings moves the account's version on, in the same
# transaction, so a cached copy is stale exactly when its version differs.
BUMP_VERSION = """
INSERT INTO optout_accounts (account_id, version, settings, updated_at) VALUES (?, 1, NULL, ?)
ON CONFLICT (account_id) DO UPDATE SET
    version = optout_accounts.version + 1, updated_at = excluded.updated_at
"""

PUT_SETTINGS = """
INSERT INTO optout_accounts (account_id, version, settings, updated_at) VALUES (?, 1, ?, ?)
ON CONFLICT (account_id) DO UPDATE SET
    version = optout_accounts.version + 1, settings = excluded.settings,
    updated_at = excluded.updated_at
"""

SELECT_VERSION = "SELECT version FROM optout_accounts WHERE account_id = ?"
SELECT_STATE = "SELECT version, settings FROM optout_accounts WHERE account_id = ?"
SELECT_NUMBERS = "SELECT number FROM suppressions WHERE account_id = ? LIMIT ?"
SELECT_SUPPRESSION = (
    f"SELECT {SUPPRESSION_COLUMNS} FROM suppressions WHERE account_id = ? AND number = ?"
)
# Keyset pagination on the primary key: stable under concurrent inserts and deletes.
LIST_SUPPRESSIONS = f"""
SELECT {SUPPRESSION_COLUMNS} FROM suppressions
WHERE account_id = ? AND number > ? ORDER BY number LIMIT ?
"""
ACCOUNT_EXISTS = "SELECT 1 FROM accounts WHERE id = ?"


def suppression(row: Row) -> Suppression:
    return Suppression(
        number=str(row[0]),
        reason=None if row[1] is None else str(row[1]),
        source=str(row[2]),
        created_at=float(row[3]),
    )


def settings_of(text: object) -> OptOutSettings | None:
    return None if text is None else OptOutSettings.from_json(str(text))


def subscriber_number(source: str) -> str:
    """An MO's source as E.164: carriers send international numbers with or without `+`."""
    candidate = source if source.startswith("+") else "+" + source
    try:
        return normalize_e164(candidate)
    except InvalidNumber:
        return source  # a short code or an odd format: kept as the carrier gave it


def keyword_statements(record: InboundRecord) -> list[tuple[str, tuple[object, ...]]]:
    """What an assembled MO changes in its account's suppression list, if it is a keyword;
    run in the transaction that stores the MO, so an acknowledged STOP is never lost."""
    if record.account_id is None or record.incomplete:
        return []
    match = match_keyword(record.text)
    if match is None or match.action is KeywordAction.HELP:
        return []
    number = subscriber_number(record.source)
    bump = (BUMP_VERSION, (record.account_id, record.received_at))
    if match.action is KeywordAction.STOP:
        row = (record.account_id, number, f"keyword {match.keyword}", "keyword", record.received_at)
        return [(UPSERT_SUPPRESSION, row), bump]
    return [(DELETE_SUPPRESSION, (record.account_id, number)), bump]
