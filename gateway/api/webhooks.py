"""`/v1/webhooks`: an account's webhook (URL, event types, signing secret) and replays; the same
under `/v1/admin/accounts/{name}/webhook` for operators."""

from __future__ import annotations

import secrets
import time

from fastapi import APIRouter, Response

from gateway.api.deps import AccountDep, AdminDep, ApiServices, ServicesDep
from gateway.api.errors import problem_responses
from gateway.domain.accounts import AccountSettings
from gateway.domain.errors import AccountNotFound, WebhookNotFound
from gateway.domain.webhooks import EVENT_TYPES, Webhook
from gateway.webhook_targets import check_target
from schemas.webhooks import WebhookPublic, WebhookPut, WebhookReplay, WebhookReplayed

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
admin_router = APIRouter(
    prefix="/v1/admin/accounts/{account}/webhook",
    tags=["admin"],
    dependencies=[AdminDep],
)


@router.put(
    "",
    response_model=WebhookPublic,
    responses=problem_responses(400, 401, 422),
    summary="Create or change the account's webhook",
)
async def put_webhook(body: WebhookPut, account: AccountDep, svc: ServicesDep) -> WebhookPublic:
    """The signing secret is in the response when the webhook is created or `rotate_secret`
    is true, and never again."""
    return await _put(svc, account.id, body)


@router.get(
    "",
    response_model=WebhookPublic,
    responses=problem_responses(401, 404),
    summary="Read the account's webhook",
)
async def get_webhook(account: AccountDep, svc: ServicesDep) -> WebhookPublic:
    return await _get(svc, account.id)


@router.delete(
    "", status_code=204, responses=problem_responses(401, 404), summary="Remove the webhook"
)
async def delete_webhook(account: AccountDep, svc: ServicesDep) -> Response:
    await _delete(svc, account.id)
    return Response(status_code=204)


@router.post(
    "/replay",
    response_model=WebhookReplayed,
    responses=problem_responses(400, 401, 404, 422),
    summary="Send events again, from a sequence number or a time",
)
async def replay(body: WebhookReplay, account: AccountDep, svc: ServicesDep) -> WebhookReplayed:
    """Events delivered or given up (kept for 7 days) become pending again and are sent in
    sequence order, with their original ids and sequence numbers."""
    if await svc.store.get_webhook(account.id) is None:
        raise WebhookNotFound("set a webhook with PUT /v1/webhooks first")
    count = await svc.store.replay_webhook_events(
        account_id=account.id,
        from_sequence=body.from_sequence or 0,
        since=body.since.timestamp() if body.since else 0.0,
    )
    if svc.webhooks is not None:
        svc.webhooks.wake()
    return WebhookReplayed(replayed=count)


@admin_router.put(
    "",
    response_model=WebhookPublic,
    responses=problem_responses(400, 401, 404, 422),
    summary="Create or change an account's webhook",
)
async def admin_put_webhook(account: str, body: WebhookPut, svc: ServicesDep) -> WebhookPublic:
    return await _put(svc, (await _account(svc, account)).id, body)


@admin_router.get(
    "",
    response_model=WebhookPublic,
    responses=problem_responses(401, 404),
    summary="Read an account's webhook",
)
async def admin_get_webhook(account: str, svc: ServicesDep) -> WebhookPublic:
    return await _get(svc, (await _account(svc, account)).id)


@admin_router.delete(
    "",
    status_code=204,
    responses=problem_responses(401, 404),
    summary="Remove an account's webhook",
)
async def admin_delete_webhook(account: str, svc: ServicesDep) -> Response:
    await _delete(svc, (await _account(svc, account)).id)
    return Response(status_code=204)


async def _account(svc: ApiServices, account: str) -> AccountSettings:
    """`{account}` of an admin path: a name or an id, as in the rest of /v1/admin."""
    found = await svc.store.get_account_settings(account)
    if found is None:
        raise AccountNotFound(f"no account {account!r}")
    return found


async def _put(svc: ApiServices, account_id: str, body: WebhookPut) -> WebhookPublic:
    await check_target(body.url, allow_private=svc.webhook_allow_private)
    candidate = "whsec_" + secrets.token_urlsafe(32)
    stored = await svc.store.put_webhook(
        account_id=account_id,
        url=body.url,
        events=list(dict.fromkeys(body.events)) if body.events is not None else EVENT_TYPES,
        secret=candidate,
        rotate=body.rotate_secret,
        now=time.time(),
    )
    # The candidate was stored only if the webhook is new or the secret rotated.
    return _public(stored, show_secret=secrets.compare_digest(stored.secret, candidate))


async def _get(svc: ApiServices, account_id: str) -> WebhookPublic:
    stored = await svc.store.get_webhook(account_id)
    if stored is None:
        raise WebhookNotFound("this account has no webhook")
    return _public(stored, show_secret=False)


async def _delete(svc: ApiServices, account_id: str) -> None:
    if not await svc.store.delete_webhook(account_id=account_id, now=time.time()):
        raise WebhookNotFound("this account has no webhook")


def _public(webhook: Webhook, *, show_secret: bool) -> WebhookPublic:
    return WebhookPublic(
        url=webhook.url,
        events=list(webhook.events),
        secret=webhook.secret if show_secret else None,
        created_at=webhook.created_at,
        updated_at=webhook.updated_at,
    )
