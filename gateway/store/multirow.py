"""Row-wise writes as a few multi-row statements, for the SQLite writer thread.

The status writer and intake write one row per message or part. Run with `executemany`, each
row is one `sqlite3_step`, and Python's sqlite3 module lets go of the GIL around every step: the
writer thread must then win it back from the event loop, once per row. Under SMPP load it spent
about 70% of its time waiting for the GIL rather than working, and every intake commit waited
behind it.

PostgreSQL does not take these VALUES lists: they measured slower end to end there (3,258 -
3,968 against 3,645 - 4,319 submit_sm/s in six interleaved pairs), though they cut the
backend's CPU per inserted row from 16 to 8 us. It takes the same rows as arrays instead, one
statement of one fixed shape whatever the batch's size (`postgres_arrays`).

Statements are built for a few fixed sizes (`SIZES`, powers of two), so sqlite3's statement
cache keeps reusing them: 50 rows go as 32 + 16 + 2.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from functools import lru_cache

Row = Sequence[object]
Statements = list[tuple[str, list[object]]]

SIZES = (256, 128, 64, 32, 16, 8, 4, 2, 1)  # 256 rows x 21 columns: far below either limit


def inserts(insert: str, rows: Sequence[Row]) -> Statements:
    """`insert` is the one-row statement (`INSERT ... VALUES (?, ...) ...`): its VALUES group
    is repeated for each row of a chunk. Rows go in order, and ON CONFLICT DO NOTHING applies
    to each in turn, against the rows before it in the same statement too."""
    head, group, tail = _split_values(insert)
    return _chunks(head + "{values}" + tail, group, rows)


def updates(
    template: str, group: str, rows: Sequence[Row], key: Callable[[Row], Hashable]
) -> Statements:
    """`template` is `WITH u(...) AS (VALUES {values}) UPDATE ... FROM u WHERE ...`; `group`
    is one row's placeholders, `(?, ?, ...)`.

    One UPDATE ... FROM applies a single source row per target row, so two updates of the same
    target in one statement would keep one of them, unpredictably. Rows are split into rounds
    with each key at most once, and the rounds run in order: the second update of a row sees
    the first one's result, exactly as one statement per row, in order, does."""
    statements: Statements = []
    for round_rows in rounds(rows, key):
        statements += _chunks(template, group, round_rows)
    return statements


def group(width: int) -> str:
    """One row's placeholders: `(?, ?, ...)`."""
    return "(" + ", ".join("?" * width) + ")"


def rounds(rows: Sequence[Row], key: Callable[[Row], Hashable]) -> list[list[Row]]:
    """Rows in rounds, each key at most once per round, in their order (also used by
    PostgreSQL's `postgres_arrays`)."""
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


def _chunks(template: str, group: str, rows: Sequence[Row]) -> Statements:
    out: Statements = []
    start, total = 0, len(rows)
    for size in SIZES:
        while total - start >= size:
            chunk = rows[start : start + size]
            out.append((_statement(template, group, size), [v for row in chunk for v in row]))
            start += size
    return out


@lru_cache(maxsize=512)
def _statement(template: str, group: str, size: int) -> str:
    return template.replace("{values}", ", ".join([group] * size))


@lru_cache(maxsize=64)
def _split_values(insert: str) -> tuple[str, str, str]:
    """(text before the VALUES group, the group, text after it)."""
    start = insert.index("VALUES (") + len("VALUES ")
    end = insert.index(")", start) + 1
    return insert[:start], insert[start:end], insert[end:]
