"""Row-wise writes as a few multi-row statements, for the SQLite writer thread.

`executemany` runs one `sqlite3_step` per row, and Python's sqlite3 module lets go of the GIL
around every step. The writer thread then has to win the GIL back from the event loop once per
row: under SMPP load it spent about 70% of its time waiting for the GIL, not working, and every
intake commit waited behind it. The same rows as one `VALUES` list per statement cost one step.

Statements are built for a few fixed sizes (`_SIZES`), so the connection's statement cache
keeps reusing them: a batch of 50 rows runs as 3 x 16 + 2 x 1.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Hashable, Sequence
from functools import lru_cache

Row = Sequence[object]

_SIZES = (256, 64, 16, 4, 1)  # 256 rows x 21 columns stays below SQLite's 32,766 parameters


def insert_rows(conn: sqlite3.Connection, insert: str, rows: Sequence[Row]) -> None:
    """`insert` is the statement `executemany` would run (`INSERT ... VALUES (?, ...) ...`):
    its VALUES group is repeated for each row of a chunk. Rows are inserted in order, and ON
    CONFLICT applies to each in turn, a row against those before it too."""
    head, group, tail = _split_values(insert)
    for statement, params in _chunks(head + "{values}" + tail, group, rows):
        conn.execute(statement, params)


def update_rows(
    conn: sqlite3.Connection, template: str, rows: Sequence[Row], key: Callable[[Row], Hashable]
) -> None:
    """`template` is `WITH u(...) AS (VALUES {values}) UPDATE ... FROM u WHERE ...`.

    One UPDATE ... FROM applies a single source row per target row, so two updates of the same
    target in one statement would keep one of them, unpredictably. Rows are split into rounds
    with each key at most once, and rounds run in order: the second update of a row sees the
    first one's result, exactly as `executemany` in row order does."""
    if not rows:
        return
    group = "(" + ", ".join("?" * len(rows[0])) + ")"
    for round_rows in _rounds(rows, key):
        for statement, params in _chunks(template, group, round_rows):
            conn.execute(statement, params)


def _rounds(rows: Sequence[Row], key: Callable[[Row], Hashable]) -> list[list[Row]]:
    rounds: list[list[Row]] = []
    seen: dict[Hashable, int] = {}
    for row in rows:
        k = key(row)
        n = seen.get(k, 0)
        seen[k] = n + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(row)
    return rounds


def _chunks(template: str, group: str, rows: Sequence[Row]) -> list[tuple[str, list[object]]]:
    out = []
    start, total = 0, len(rows)
    for size in _SIZES:
        while total - start >= size:
            chunk = rows[start : start + size]
            out.append((_statement(template, group, size), [v for row in chunk for v in row]))
            start += size
    return out


@lru_cache(maxsize=256)
def _statement(template: str, group: str, size: int) -> str:
    return template.replace("{values}", ", ".join([group] * size))


@lru_cache(maxsize=64)
def _split_values(insert: str) -> tuple[str, str, str]:
    """(text before the VALUES group, the group, text after it)."""
    start = insert.index("VALUES (") + len("VALUES ")
    end = insert.index(")", start) + 1
    return insert[:start], insert[start:end], insert[end:]
