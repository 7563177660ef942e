"""`/v1/messages`: submit a message and read its status."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from gateway.api.deps import AccountDep, ServicesDep
from gateway.api.errors import problem_responses
from gateway.api.replies import IdempotencyKeyHeader, reply_response
from gateway.domain import MessageRecord, MessageType
from gateway.domain.errors import NotFound
from gateway.domain.ids import is_valid_id
from gateway.idempotency import Reply, Stamp, fingerprint
from gateway.intake import Submission
from gateway.routing import price_for
from gateway.text import EncodedText, Encoding
from schemas.messages import (
    MessageAccepted,
    MessageCreate,
    MessagePreview,
    MessagePublic,
    MessageTimestamps,
    PartPublic,
    SegmentPreview,
    Transliteration,
)

router = APIRouter(prefix="/v1/messages", tags=["messages"])


@router.post(
    "",
    status_code=202,
    response_model=MessageAccepted,
    responses=problem_responses(400, 401, 402, 403, 409, 422, 429, 503),
    summary="Submit one message",
)
async def submit_message(
    body: MessageCreate,
    account: AccountDep,
    svc: ServicesDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Accepted (202) means committed: the message survives a crash from this point on."""
    submission = _submission(body, account.id)

    async def submit(stamp: Stamp | None) -> Reply | None:
        message, encoded = svc.intake.prepare(submission)
        message = await svc.intake.admit(message)
        segments = len(encoded.segments)
        accepted = MessageAccepted(
            id=message.id,
            status=message.status.value,
            segments=segments,
            encoding=encoded.encoding.value,
            transliterated=_transliterations(encoded),
            price=price_for(message.price, segments),
        )
        reply = Reply(202, accepted.model_dump_json().encode())
        record = stamp(reply.status_code, reply.body) if stamp else None
        return reply if await svc.intake.submit_many([message], idempotency=record) else None

    reply = await svc.idempotency.run(
        account_id=account.id,
        key=idempotency_key,
        fingerprint=lambda: fingerprint(
            "POST /v1/messages", body.model_dump(mode="json", by_alias=True)
        ),
        submit=submit,
    )
    return reply_response(reply)


@router.post(
    "/preview",
    response_model=MessagePreview,
    responses=problem_responses(400, 401, 422),
    summary="Preview encoding and segments without sending",
)
async def preview_message(
    body: MessageCreate, account: AccountDep, svc: ServicesDep
) -> MessagePreview:
    """Exactly what a submit of the same body would send: encoding, segments, split points,
    and the price (the account's price or its route's, x segments)."""
    submission = _submission(body, account.id)
    destination, sender, encoded = svc.intake.encode(submission)
    parts = []
    offset = 0
    for index, segment in enumerate(encoded.segments, start=1):
        end = offset + len(segment.text)
        parts.append(
            SegmentPreview(
                index=index, text=segment.text, units=segment.units, start=offset, end=end
            )
        )
        offset = end
    return MessagePreview(
        encoding=encoded.encoding.value,
        data_coding=encoded.data_coding,
        segments=len(encoded.segments),
        units=encoded.units,
        characters_per_segment=encoded.characters_per_segment,
        national_language=encoded.national.name.lower() if encoded.national else None,
        ucs2_forced_by=list(encoded.ucs2_forced_by),
        transliterated=_transliterations(encoded),
        text=encoded.text,
        parts=parts,
        price=svc.intake.price(
            account_id=account.id,
            destination=destination,
            message_type=submission.message_type,
            source=sender,
            segments=len(encoded.segments),
        ),
    )


def _submission(body: MessageCreate, account_id: str) -> Submission:
    return Submission(
        account_id=account_id,
        to=body.to,
        sender=body.from_,
        text=body.text,
        message_type=MessageType(body.type),
        client_ref=body.client_ref,
        encoding=Encoding(body.encoding) if body.encoding else None,
        transliterate=body.transliterate,
        send_at=body.send_at.timestamp() if body.send_at else None,
        validity=body.validity,
    )


def _transliterations(encoded: EncodedText) -> list[Transliteration]:
    return [Transliteration(original=a, replacement=b) for a, b in encoded.replaced]


@router.get(
    "/{message_id}",
    response_model=MessagePublic,
    response_model_by_alias=True,
    responses=problem_responses(401, 404),
    summary="Read a message's status",
)
async def get_message(message_id: str, account: AccountDep, svc: ServicesDep) -> MessagePublic:
    record = None
    if is_valid_id(message_id):
        record = await svc.store.get_message(account_id=account.id, message_id=message_id)
    if record is None:
        # Another account's message is "not found" too: ids never confirm what others sent.
        raise NotFound(f"no message {message_id!r} in this account")
    return _public(record)


@router.delete(
    "/{message_id}",
    response_model=MessagePublic,
    response_model_by_alias=True,
    responses=problem_responses(401, 404, 409),
    summary="Cancel a message that has not been sent yet",
)
async def cancel_message(message_id: str, account: AccountDep, svc: ServicesDep) -> MessagePublic:
    """A scheduled or queued message that no node has started sending becomes `cancelled`
    and is never sent; otherwise 409 `message.not_cancellable` with its current status
    in `message_status` (`status` is the HTTP status in problem+json)."""
    if not is_valid_id(message_id):
        raise NotFound(f"no message {message_id!r} in this account")
    record = await svc.cancellation.cancel(account_id=account.id, message_id=message_id)
    return _public(record)


def _public(r: MessageRecord) -> MessagePublic:
    return MessagePublic(
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
        upstream_ids=[p.upstream_id for p in r.parts if p.upstream_id],
        send_at=r.send_at,
        expires_at=r.expires_at,
        price=price_for(r.price, r.segments),
        batch_id=r.batch_id,
        error_code=r.error_code,
        error_detail=r.error_detail,
        parts=[
            PartPublic(
                seq=p.seq,
                status=p.status.value,
                upstream_id=p.upstream_id,
                connector=p.connector,
                attempts=p.attempts,
                error_code=p.error_code,
                submitted_at=p.submitted_at,
                done_at=p.done_at,
                raw_state=p.raw_state,
            )
            for p in r.parts
        ],
        timestamps=MessageTimestamps(
            accepted=r.created_at,
            # Parts are queued when committed and due at send_at: no separate column needed.
            queued=max(r.created_at, r.send_at or 0.0),
            submitted=r.submitted_at,
            done=r.done_at,
        ),
    )
