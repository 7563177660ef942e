"""Row-wise writes as one statement over unnest() arrays, for PostgreSQL.

With `executemany`, asyncpg pipelines one Bind/Execute per row, and the backend starts and ends
an executor for each: measured with the gateway's own schema, an UPDATE of 200 parts cost the
backend 22 - 30 us per row that way, against 13 - 19 us as one statement joined to unnest() of
one array per column. Under SMPP load PostgreSQL's backends took as much CPU as the gateway,
and the status writer fell behind the receipts on the machine's two cores.

The statements are the shared SQLite/PostgreSQL ones (`sql.INSERT_*`, and the `WITH u(...) AS
(VALUES {values})` templates SQLite's multi-row writes use), rewritten once at import; rows go
in as they do to `executemany`, and are transposed into columns here. The arrays' element types
are given per column (`types`); a test holds them to the migrated schema.

An UPDATE joined to unnest() must find its rows by key (`INDEX_PROBES`, for its transaction).
Left to itself, the planner hashes the batch and reads the whole table: 200 keys against
30,000 parts planned as a sequential scan, on statistics or without, since probing an index
200 times is estimated dearer than a scan of a table that size; read for every batch, it cost
more than the per-row executions it replaced. Hash and merge joins are therefore off for the
transaction, and each statement is planned for the batch at hand rather than cached: a plan
made elsewhere under other settings is not reused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Mapping, Sequence

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from gateway.store.multirow import rounds

Row = Sequence[object]
Connection = asyncpg.Connection | PoolConnectionProxy

# First in the transaction of a batch UPDATE (or read by keys): see the module's docstring.
INDEX_PROBES = (
    "SELECT set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off',"
    " true), set_config('plan_cache_mode', 'force_custom_plan', true)"
)

_INSERT = re.compile(
    r"^\s*INSERT INTO (?P<table>\w+)\s*\((?P<columns>[^)]*)\)\s*"
    r"VALUES\s*\((?P<values>[^)]*)\)(?P<tail>.*)$",
    re.DOTALL,
)
_WITH_VALUES = re.compile(
    r"^\s*WITH u\((?P<columns>[^)]*)\)\s*AS \(VALUES \{values\}\)\s*(?P<update>.*)$", re.DOTALL
)


def types(table: str) -> dict[str, str]:
    """Lines of `type: column column ...`, where a line without a `type:` goes on with the
    type before it, as {column: type}."""
    found: dict[str, str] = {}
    kind = ""
    for line in table.strip().splitlines():
        head, colon, rest = line.strip().partition(":")
        listed = line
        if colon:
            kind, listed = head, rest
        elif not kind:
            raise ValueError(f"columns before any type: {line!r}")
        for column in listed.split():
            if found.setdefault(column, kind) != kind:
                raise ValueError(f"{column} is given two types")
    return found


def _names(listed: str) -> list[str]:
    return [name.strip() for name in listed.split(",")]


def _unnest(columns: Sequence[str], types: Mapping[str, str]) -> str:
    missing = [c for c in columns if c not in types]
    if missing:
        raise ValueError(f"no array type for {missing}")
    arrays = ", ".join(f"${i}::{types[c]}[]" for i, c in enumerate(columns, 1))
    return f"unnest({arrays}) AS u({', '.join(columns)})"


def insert(statement: str, types: Mapping[str, str]) -> str:
    """`INSERT INTO t (a, b, c) VALUES (?, 'x', ?) <tail>` as `INSERT INTO t (a, b, c) SELECT
    u.a, 'x', u.c FROM unnest($1::ta[], $2::tc[]) AS u(a, c) <tail>`: literals stay literals,
    each `?` becomes its column's array."""
    match = _INSERT.match(statement)
    if match is None:
        raise ValueError(f"not a one-row INSERT ... VALUES: {statement!r}")
    columns = _names(match["columns"])
    values = _names(match["values"])
    if len(columns) != len(values):
        raise ValueError("an INSERT's columns and values differ in number")
    bound = [c for c, v in zip(columns, values, strict=True) if v == "?"]
    selected = [f"u.{c}" if v == "?" else v for c, v in zip(columns, values, strict=True)]
    return (
        f"INSERT INTO {match['table']} ({', '.join(columns)}) SELECT {', '.join(selected)}"
        f" FROM {_unnest(bound, types)}{match['tail'].rstrip()}"
    )


def update(template: str, types: Mapping[str, str]) -> str:
    """A `WITH u(...) AS (VALUES {values}) UPDATE ... FROM u WHERE ...` template with `u` as
    unnest() of one array per column instead."""
    match = _WITH_VALUES.match(template)
    if match is None:
        raise ValueError(f"not a WITH u(...) AS (VALUES ...) UPDATE: {template!r}")
    body = match["update"]
    if body.count("FROM u WHERE") != 1:
        raise ValueError("the UPDATE must join `FROM u WHERE` once")
    source = _unnest(_names(match["columns"]), types)
    return body.replace("FROM u WHERE", f"FROM {source} WHERE").rstrip()


def columns(rows: Sequence[Row]) -> list[list[object]]:
    """Rows as one list per column: the arrays of an `insert` or `update` statement."""
    return [list(column) for column in zip(*rows, strict=True)]


async def execute(conn: Connection, statement: str, rows: Sequence[Row]) -> None:
    """An `insert` statement for these rows; nothing when there are none."""
    if rows:
        await conn.execute(statement, *columns(rows))


async def fetch(conn: Connection, statement: str, rows: Sequence[Row]) -> list[asyncpg.Record]:
    """An `insert` statement with RETURNING for these rows: the rows it returned."""
    if not rows:
        return []
    return list(await conn.fetch(statement, *columns(rows)))


async def execute_updates(
    conn: Connection,
    statement: str,
    rows: Sequence[Row],
    key: Callable[[Row], Hashable],
) -> None:
    """An `update` statement for these rows, in rounds with each key at most once: one
    UPDATE ... FROM applies a single source row to a target row (see `multirow.updates`)."""
    for round_rows in rounds(rows, key):
        await conn.execute(statement, *columns(round_rows))
