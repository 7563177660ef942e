"""Rewriting the shared one-row statements for PostgreSQL's unnest() batches
(gateway.store.postgres_arrays); their effect on real tables is tested in
tests/integration/test_postgres_array_writes.py."""

from __future__ import annotations

import pytest

from gateway.store import postgres_arrays

TYPES = postgres_arrays.types(
    """
    text: a c
    int4: b
        k
    """
)


def test_types_lines_and_continuations() -> None:
    assert TYPES == {"a": "text", "c": "text", "b": "int4", "k": "int4"}
    with pytest.raises(ValueError, match="two types"):
        postgres_arrays.types("text: a\nint4: a")
    with pytest.raises(ValueError, match="before any type"):
        postgres_arrays.types("a b")


def test_insert_binds_each_placeholder_and_keeps_literals_and_the_tail() -> None:
    statement = postgres_arrays.insert(
        "INSERT INTO t (a, kind, b) VALUES (?, 'x', ?)\nON CONFLICT DO NOTHING\n", TYPES
    )
    assert statement == (
        "INSERT INTO t (a, kind, b) SELECT u.a, 'x', u.b FROM unnest($1::text[], $2::int4[])"
        " AS u(a, b)\nON CONFLICT DO NOTHING"
    )


def test_update_joins_the_arrays_where_the_template_joined_its_values() -> None:
    statement = postgres_arrays.update(
        "WITH u(a, b, k) AS (VALUES {values})\nUPDATE t SET a = u.a FROM u WHERE t.k = u.k"
        " AND t.b < u.b",
        TYPES,
    )
    assert statement == (
        "UPDATE t SET a = u.a FROM unnest($1::text[], $2::int4[], $3::int4[]) AS u(a, b, k)"
        " WHERE t.k = u.k AND t.b < u.b"
    )


@pytest.mark.parametrize(
    ("rewrite", "statement", "error"),
    [
        (postgres_arrays.insert, "INSERT INTO t (a, z) VALUES (?, ?)", "no array type"),
        (postgres_arrays.insert, "INSERT INTO t (a, b) VALUES (?)", "differ in number"),
        (postgres_arrays.insert, "UPDATE t SET a = ?", "not a one-row INSERT"),
        (postgres_arrays.update, "UPDATE t SET a = ?", "not a WITH"),
        (
            postgres_arrays.update,
            "WITH u(a) AS (VALUES {values}) UPDATE t SET a = u.a FROM u, v WHERE true",
            "FROM u WHERE",
        ),
    ],
)
def test_statements_it_cannot_rewrite_are_refused_at_import(
    rewrite: object, statement: str, error: str
) -> None:
    assert callable(rewrite)
    with pytest.raises(ValueError, match=error):
        rewrite(statement, TYPES)


def test_columns_transposes_rows() -> None:
    assert postgres_arrays.columns([(1, "a"), (2, None)]) == [[1, 2], ["a", None]]
    with pytest.raises(ValueError, match="shorter"):  # rows of unequal widths
        postgres_arrays.columns([(1, "a"), (2,)])
