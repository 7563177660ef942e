"""Responses that may be replayed: the Idempotency-Key header and the stored reply."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header
from fastapi.responses import Response

from gateway.idempotency import MAX_KEY_LENGTH, Reply

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        description="Retry safely: a request with a key already used by this account in the "
        "last 24 hours gets the first response again (Idempotent-Replayed: true) and sends "
        "nothing; the same key with another body is idempotency.key_mismatch (422), and while "
        "the first is still in progress idempotency.in_progress (409).",
    ),
]


def reply_response(reply: Reply) -> Response:
    """The stored bytes as they are, so a replay is identical to the first response."""
    headers = {"Idempotent-Replayed": "true"} if reply.replayed else None
    return Response(
        content=reply.body,
        status_code=reply.status_code,
        media_type="application/json",
        headers=headers,
    )
