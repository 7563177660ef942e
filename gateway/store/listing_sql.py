"""SQL for listing messages and inbound messages, newest first, by keyset on (time, id).

Both walk the (account_id, created_at, id) / (account_id, received_at, id) indexes backwards
from the cursor, so a page costs the same at the millionth row as at the first. Row values
`(a, b) < (?, ?)` are standard SQL and understood by SQLite (3.15+) and PostgreSQL.
"""

from __future__ import annotations

from gateway.domain.listing import MessageFilter, Position
from gateway.store import sql

LIST_MESSAGE_COLUMNS = """id, account_id, source, destination, status, encoding, segments,
    message_type, client_ref, created_at, updated_at, submitted_at, done_at, error_code,
    error_detail, send_at, expires_at, price, batch_id"""


def list_messages_query(
    *, account_id: str, where: MessageFilter, after: Position | None, limit: int
) -> tuple[str, list[object]]:
    """The statement (with `?` placeholders) and its parameters."""
    clauses = ["account_id = ?"]
    params: list[object] = [account_id]
    if after is not None:
        clauses.append("(created_at, id) < (?, ?)")
        params += [after.at, after.id]
    if where.statuses:
        clauses.append(f"status IN ({sql.in_list(len(where.statuses))})")
        params += [s.value for s in where.statuses]
    if where.destination is not None:
        clauses.append("destination = ?")
        params.append(where.destination)
    if where.created_after is not None:
        clauses.append("created_at >= ?")
        params.append(where.created_after)
    if where.created_before is not None:
        clauses.append("created_at < ?")
        params.append(where.created_before)
    if where.batch_id is not None:
        clauses.append("batch_id = ?")
        params.append(where.batch_id)
    params.append(limit)
    statement = (
        f"SELECT {LIST_MESSAGE_COLUMNS} FROM messages WHERE {' AND '.join(clauses)}"
        " ORDER BY created_at DESC, id DESC LIMIT ?"
    )
    return statement, params


def list_inbound_query(
    *, account_id: str, after: Position | None, limit: int
) -> tuple[str, list[object]]:
    if after is None:
        keyset, params = "", [account_id, limit]
    else:
        keyset, params = " AND (received_at, id) < (?, ?)", [account_id, after.at, after.id, limit]
    statement = (
        f"SELECT {sql.INBOUND_COLUMNS} FROM inbound WHERE account_id = ?{keyset}"
        " ORDER BY received_at DESC, id DESC LIMIT ?"
    )
    return statement, params
