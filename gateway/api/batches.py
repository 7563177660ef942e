"""`/v1/messages/batch` and `/v1/batches`: one text or template to many recipients."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import ValidationError

from gateway.api.deps import AccountDep, ServicesDep
from gateway.api.errors import problem_responses
from gateway.api.replies import IdempotencyKeyHeader, reply_response
from gateway.api.templates import find_template
from gateway.batches import Accepted, BatchPlan, BatchRequest, Recipient, Refused
from gateway.domain import MessageType
from gateway.domain.errors import BatchNotFound, ValidationFailed
from gateway.domain.ids import is_valid_id
from gateway.idempotency import Reply, Stamp, fingerprint
from gateway.text import Encoding
from schemas.batches import (
    BatchAccepted,
    BatchCreate,
    BatchMessage,
    BatchPublic,
    BatchRecipient,
    BatchRefusal,
    RecipientError,
)

router = APIRouter(tags=["batches"])


@router.post(
    "/v1/messages/batch",
    status_code=202,
    response_model=BatchAccepted,
    responses=problem_responses(400, 401, 404, 409, 422, 429, 503),
    summary="Submit one text or template to up to 10,000 recipients",
)
async def submit_batch(
    body: BatchCreate,
    account: AccountDep,
    svc: ServicesDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Accepted (202) means every message in `results` with an id is committed. A recipient
    that cannot be sent (invalid number, missing variable, ...) gets an `error` in its result
    and the others are sent; the whole request fails only for what no recipient could use (a
    template syntax error, an invalid sender or schedule) or back-pressure (429)."""
    text = body.text
    if body.template is not None:
        text = (await find_template(svc, account.id, body.template)).text
    assert text is not None  # BatchCreate takes exactly one of text and template
    request = _request(body, account.id, text)

    async def submit(stamp: Stamp | None) -> Reply | None:
        plan = await svc.batches.prepare(request)
        reply = Reply(202, _accepted(plan).model_dump_json().encode())
        committed = await svc.intake.submit_many(
            plan.messages,
            batch=plan.batch,
            idempotency=stamp(reply.status_code, reply.body) if stamp else None,
        )
        return reply if committed else None

    reply = await svc.idempotency.run(
        account_id=account.id,
        key=idempotency_key,
        fingerprint=lambda: fingerprint("POST /v1/messages/batch", body.model_dump(mode="json")),
        submit=submit,
    )
    return reply_response(reply)


@router.get(
    "/v1/batches/{batch_id}",
    response_model=BatchPublic,
    response_model_by_alias=True,
    responses=problem_responses(401, 404),
    summary="Read a batch: its messages per status, segments and price",
)
async def get_batch(batch_id: str, account: AccountDep, svc: ServicesDep) -> BatchPublic:
    summary = None
    if is_valid_id(batch_id):
        summary = await svc.store.get_batch(account_id=account.id, batch_id=batch_id)
    if summary is None:
        # Another account's batch is "not found" too.
        raise BatchNotFound(f"no batch {batch_id!r} in this account")
    b = summary.batch
    return BatchPublic(
        id=b.id,
        created_at=b.created_at,
        from_=b.source,
        type=MessageType(b.message_type).value,
        client_ref=b.client_ref,
        recipients=b.recipients,
        accepted=b.accepted,
        rejected=b.rejected,
        statuses=summary.statuses,
        segments=summary.segments,
        price=summary.price,
    )


def _request(body: BatchCreate, account_id: str, text: str) -> BatchRequest:
    return BatchRequest(
        account_id=account_id,
        sender=body.from_,
        text=text,
        message_type=MessageType(body.type),
        recipients=[_recipient(item) for item in body.recipients],
        client_ref=body.client_ref,
        encoding=Encoding(body.encoding) if body.encoding else None,
        transliterate=body.transliterate,
        send_at=body.send_at.timestamp() if body.send_at else None,
        validity=body.validity,
    )


def _recipient(item: object) -> Recipient | Refused:
    try:
        parsed = BatchRecipient.model_validate(item)
    except ValidationError as exc:
        to = item.get("to") if isinstance(item, dict) else None
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'recipient'}: {e['msg']}" for e in exc.errors()
        )
        return Refused(to if isinstance(to, str) else None, ValidationFailed(detail))
    variables = {name: str(value) for name, value in parsed.vars.items()}
    return Recipient(parsed.to, variables, parsed.client_ref)


def _accepted(plan: BatchPlan) -> BatchAccepted:
    results: list[BatchMessage | BatchRefusal] = []
    for r in plan.results:
        if isinstance(r, Accepted):
            results.append(
                BatchMessage(
                    to=r.to,
                    id=r.message.id,
                    status=r.message.status.value,
                    segments=r.segments,
                    price=r.price,
                )
            )
        else:
            results.append(
                BatchRefusal(
                    to=r.to, error=RecipientError(code=r.error.code, detail=r.error.detail)
                )
            )
    return BatchAccepted(
        batch_id=plan.batch.id,
        recipients=plan.batch.recipients,
        accepted=plan.batch.accepted,
        rejected=plan.batch.rejected,
        results=results,
    )
