"""Suppression lists and opt-out settings on SQLite: a mixin `SqliteStore` inherits."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from gateway.domain import InboundRecord
from gateway.domain.optout import OptOutSettings, Suppression
from gateway.store import optout_sql as q

T = TypeVar("T")
_CHUNK = 900  # well below SQLite's limit on host parameters


class SqliteOptOut:
    if TYPE_CHECKING:

        async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...
        async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...

    async def add_suppressions(
        self,
        *,
        account_id: str,
        numbers: Sequence[str],
        reason: str | None,
        source: str,
        now: float,
    ) -> None:
        rows = [(account_id, n, reason, source, now) for n in numbers]

        def run(conn: sqlite3.Connection) -> None:
            conn.executemany(q.UPSERT_SUPPRESSION, rows)
            conn.execute(q.BUMP_VERSION, (account_id, now))

        await self._write(run)

    async def remove_suppression(self, *, account_id: str, number: str, now: float) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            if not conn.execute(q.DELETE_SUPPRESSION, (account_id, number)).rowcount:
                return False
            conn.execute(q.BUMP_VERSION, (account_id, now))
            return True

        return await self._write(run)

    async def get_suppression(self, *, account_id: str, number: str) -> Suppression | None:
        row = await self._read(
            lambda c: c.execute(q.SELECT_SUPPRESSION, (account_id, number)).fetchone()
        )
        return None if row is None else q.suppression(row)

    async def list_suppressions(
        self, *, account_id: str, after: str, limit: int
    ) -> list[Suppression]:
        rows = await self._read(
            lambda c: c.execute(q.LIST_SUPPRESSIONS, (account_id, after, limit)).fetchall()
        )
        return [q.suppression(r) for r in rows]

    async def suppressed_among(self, *, account_id: str, numbers: Sequence[str]) -> set[str]:
        def run(conn: sqlite3.Connection) -> set[str]:
            found: set[str] = set()
            items = list(numbers)
            for i in range(0, len(items), _CHUNK):
                chunk = items[i : i + _CHUNK]
                marks = ", ".join("?" * len(chunk))
                cursor = conn.execute(
                    f"SELECT number FROM suppressions WHERE account_id = ? AND number IN ({marks})",
                    (account_id, *chunk),
                )
                found.update(r[0] for r in cursor)
            return found

        return await self._read(run)

    async def optout_version(self, account_id: str) -> int:
        row = await self._read(lambda c: c.execute(q.SELECT_VERSION, (account_id,)).fetchone())
        return 0 if row is None else int(row[0])

    async def load_optout(
        self, *, account_id: str, max_numbers: int
    ) -> tuple[int, OptOutSettings | None, list[str] | None]:
        def run(conn: sqlite3.Connection) -> tuple[int, OptOutSettings | None, list[str] | None]:
            # One read transaction: the version read belongs to the list read.
            conn.execute("BEGIN")
            try:
                state = conn.execute(q.SELECT_STATE, (account_id,)).fetchone()
                if state is None:
                    return 0, None, []
                rows = conn.execute(q.SELECT_NUMBERS, (account_id, max_numbers + 1)).fetchall()
            finally:
                conn.execute("COMMIT")
            numbers = None if len(rows) > max_numbers else [r[0] for r in rows]
            return int(state[0]), q.settings_of(state[1]), numbers

        return await self._read(run)

    async def optout_settings(self, account_id: str) -> OptOutSettings | None:
        row = await self._read(lambda c: c.execute(q.SELECT_STATE, (account_id,)).fetchone())
        return None if row is None else q.settings_of(row[1])

    async def put_optout_settings(
        self, *, account_id: str, settings: OptOutSettings, now: float
    ) -> None:
        row = (account_id, settings.to_json(), now)
        await self._write(lambda c: c.execute(q.PUT_SETTINGS, row))

    async def account_exists(self, account_id: str) -> bool:
        row = await self._read(lambda c: c.execute(q.ACCOUNT_EXISTS, (account_id,)).fetchone())
        return row is not None


def apply_inbound_keyword(conn: sqlite3.Connection, record: InboundRecord) -> None:
    """Called by the store while it stores an MO, inside its transaction."""
    for statement, params in q.keyword_statements(record):
        conn.execute(statement, params)
