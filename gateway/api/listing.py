"""`GET /v1/messages` and `GET /v1/inbound`: an account's messages, newest first, a page at a
time by keyset cursor."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gateway.api.cursors import decode_cursor, encode_cursor
from gateway.api.deps import AccountDep, ServicesDep
from gateway.api.errors import problem_responses
from gateway.api.instants import Instant, epoch_seconds
from gateway.domain import Status
from gateway.domain.listing import MessageFilter, Position
from gateway.phone import normalize_e164
from schemas.listing import InboundPage, InboundPublic, MessagesPage, MessageSummary
from schemas.messages import StatusName

router = APIRouter(tags=["messages"])

MAX_LIMIT = 1000
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="rows per page (at most 1000)")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page")]


@router.get(
    "/v1/messages",
    response_model=MessagesPage,
    response_model_by_alias=True,
    responses=problem_responses(400, 401, 422),
    summary="List messages, newest first",
)
async def list_messages(
    *,
    account: AccountDep,
    svc: ServicesDep,
    status: Annotated[list[StatusName] | None, Query(description="repeat for several")] = None,
    to: Annotated[str | None, Query(description="destination number")] = None,
    created_after: Annotated[Instant | None, Query(description="ISO 8601 or unix")] = None,
    created_before: Annotated[Instant | None, Query(description="ISO 8601 or unix")] = None,
    batch_id: Annotated[str | None, Query(description="messages of one batch")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> MessagesPage:
    where = MessageFilter(
        statuses=tuple(Status(s) for s in dict.fromkeys(status or ())),
        destination=normalize_e164(to) if to else None,
        created_after=_epoch(created_after),
        created_before=_epoch(created_before),
        batch_id=batch_id,
    )
    records = await svc.store.list_messages(
        account_id=account.id, where=where, after=decode_cursor(cursor), limit=limit + 1
    )
    # One row more than asked says whether another page exists, so the last page has no cursor.
    last = records[limit - 1] if len(records) > limit else None
    records = records[:limit]
    return MessagesPage(
        data=[
            MessageSummary(
                id=r.id,
                status=r.status.value,
                to=r.destination,
                from_=r.source,
                type=r.message_type.value,
                encoding=r.encoding,
                segments=r.segments,
                client_ref=r.client_ref,
                created_at=r.created_at,
                updated_at=r.updated_at,
                submitted_at=r.submitted_at,
                done_at=r.done_at,
                send_at=r.send_at,
                error_code=r.error_code,
                batch_id=r.batch_id,
            )
            for r in records
        ],
        next_cursor=None if last is None else encode_cursor(Position(last.created_at, last.id)),
    )


@router.get(
    "/v1/inbound",
    response_model=InboundPage,
    response_model_by_alias=True,
    responses=problem_responses(400, 401, 422),
    tags=["inbound"],
    summary="List inbound (MO) messages, newest first",
)
async def list_inbound(
    account: AccountDep, svc: ServicesDep, limit: Limit = 100, cursor: Cursor = None
) -> InboundPage:
    records = await svc.store.list_inbound_page(
        account_id=account.id, after=decode_cursor(cursor), limit=limit + 1
    )
    last = records[limit - 1] if len(records) > limit else None
    records = records[:limit]
    return InboundPage(
        data=[
            InboundPublic(
                id=r.id,
                from_=r.source,
                to=r.destination,
                text=r.text,
                encoding=r.encoding,
                parts=r.parts,
                incomplete=r.incomplete,
                connector=r.connector,
                received_at=r.received_at,
            )
            for r in records
        ],
        next_cursor=None if last is None else encode_cursor(Position(last.received_at, last.id)),
    )


def _epoch(value: Instant | None) -> float | None:
    return None if value is None else epoch_seconds(value)
