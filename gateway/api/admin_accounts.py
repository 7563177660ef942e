"""`/v1/admin/accounts`: accounts and their limits, API keys, SMPP credentials and numbers.

Guarded by the admin key. Accounts are named by id or name in paths. Every change is in force
on this node when the response is sent, and on every other node within
`GATEWAY_ADMIN_REFRESH_INTERVAL`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from gateway.accounts import AccountAdmin
from gateway.api.deps import AdminDep, ServicesDep
from gateway.api.errors import problem_responses
from gateway.domain import SmppCredential
from gateway.domain.accounts import AccountSettings, Usage
from gateway.domain.errors import InternalError
from schemas.admin import (
    AccountCreate,
    AccountLimits,
    AccountPublic,
    AccountsPublic,
    AccountUpdate,
    KeyCreated,
    KeyPublic,
    KeysPublic,
    NumberPublic,
    NumbersPublic,
    SmppCredentialPublic,
    SmppCredentialPut,
    SmppCredentialsPublic,
    UsagePublic,
)

router = APIRouter(prefix="/v1/admin/accounts", tags=["admin"], dependencies=[AdminDep])


def _admin(svc: ServicesDep) -> AccountAdmin:
    if svc.admin is None:  # an API built without the service (tests of other parts)
        raise InternalError("account administration is not configured on this node")
    return svc.admin


@router.post(
    "",
    status_code=201,
    response_model=AccountPublic,
    responses=problem_responses(401, 409, 422),
    summary="Create an account",
)
async def create_account(body: AccountCreate, svc: ServicesDep) -> AccountPublic:
    limits = _limits(body, body.model_fields_set - {"name"})
    account = await _admin(svc).create_account(body.name, **limits)
    return _account(account)


@router.get(
    "", response_model=AccountsPublic, responses=problem_responses(401), summary="List accounts"
)
async def list_accounts(svc: ServicesDep) -> AccountsPublic:
    return AccountsPublic(data=[_account(a) for a in await _admin(svc).list_accounts()])


@router.get(
    "/{account}",
    response_model=AccountPublic,
    responses=problem_responses(401, 404),
    summary="Read an account, with its usage today and this month",
)
async def get_account(account: str, svc: ServicesDep) -> AccountPublic:
    admin = _admin(svc)
    found = await admin.get_account(account)
    return _account(found, await admin.usage(found.id))


@router.patch(
    "/{account}",
    response_model=AccountPublic,
    responses=problem_responses(401, 404, 409, 422),
    summary="Change an account: status (active/suspended), limits, senders, price",
)
async def update_account(account: str, body: AccountUpdate, svc: ServicesDep) -> AccountPublic:
    fields = body.model_fields_set
    changes = _limits(body, fields - {"name", "status"})
    if "name" in fields and body.name is not None:
        changes["name"] = body.name
    if "status" in fields and body.status is not None:
        changes["active"] = body.status == "active"
    return _account(await _admin(svc).update_account(account, **changes))


@router.post(
    "/{account}/keys",
    status_code=201,
    response_model=KeyCreated,
    responses=problem_responses(401, 404),
    summary="Create an API key; the key is in this response only",
)
async def create_key(account: str, svc: ServicesDep) -> KeyCreated:
    key, info = await _admin(svc).create_key(account)
    return KeyCreated(key=key, prefix=info.prefix, created_at=info.created_at)


@router.get(
    "/{account}/keys",
    response_model=KeysPublic,
    responses=problem_responses(401, 404),
    summary="List an account's API keys (prefixes only)",
)
async def list_keys(account: str, svc: ServicesDep) -> KeysPublic:
    keys = await _admin(svc).list_keys(account)
    return KeysPublic(
        data=[
            KeyPublic(
                prefix=k.prefix,
                created_at=k.created_at,
                revoked_at=k.revoked_at,
                active=k.revoked_at is None,
            )
            for k in keys
        ]
    )


@router.delete(
    "/{account}/keys/{prefix}",
    status_code=204,
    responses=problem_responses(401, 404, 409),
    summary="Revoke an API key by its prefix",
)
async def revoke_key(account: str, prefix: str, svc: ServicesDep) -> Response:
    await _admin(svc).revoke_key(account, prefix)
    return Response(status_code=204)


@router.put(
    "/{account}/smpp/{system_id}",
    response_model=SmppCredentialPublic,
    responses={
        201: {"model": SmppCredentialPublic, "description": "created"},
        **problem_responses(401, 404, 409, 422),
    },
    summary="Create or change SMPP credentials (password, networks, binds, throughput)",
)
async def put_smpp(
    account: str, system_id: str, body: SmppCredentialPut, svc: ServicesDep, response: Response
) -> SmppCredentialPublic:
    credential, created = await _admin(svc).put_smpp_credential(
        account,
        system_id,
        password=body.password,
        allowed_networks=body.allowed_networks,
        max_binds=body.max_binds,
        throughput=body.throughput,
    )
    response.status_code = 201 if created else 200
    return _credential(credential)


@router.get(
    "/{account}/smpp",
    response_model=SmppCredentialsPublic,
    responses=problem_responses(401, 404),
    summary="List an account's SMPP credentials",
)
async def list_smpp(account: str, svc: ServicesDep) -> SmppCredentialsPublic:
    credentials = await _admin(svc).list_smpp_credentials(account)
    return SmppCredentialsPublic(data=[_credential(c) for c in credentials])


@router.delete(
    "/{account}/smpp/{system_id}",
    status_code=204,
    responses=problem_responses(401, 404),
    summary="Delete SMPP credentials (open binds with them are unbound)",
)
async def delete_smpp(account: str, system_id: str, svc: ServicesDep) -> Response:
    await _admin(svc).delete_smpp_credential(account, system_id)
    return Response(status_code=204)


@router.put(
    "/{account}/numbers/{number}",
    response_model=NumberPublic,
    responses=problem_responses(401, 404, 409, 422),
    summary="Assign a number (+E.164 or short code) for inbound messages",
)
async def put_number(account: str, number: str, svc: ServicesDep) -> NumberPublic:
    assigned = await _admin(svc).add_number(account, number)
    return NumberPublic(number=assigned.number, created_at=assigned.created_at)


@router.get(
    "/{account}/numbers",
    response_model=NumbersPublic,
    responses=problem_responses(401, 404),
    summary="List an account's inbound numbers",
)
async def list_numbers(account: str, svc: ServicesDep) -> NumbersPublic:
    numbers = await _admin(svc).list_numbers(account)
    return NumbersPublic(
        data=[NumberPublic(number=n.number, created_at=n.created_at) for n in numbers]
    )


@router.delete(
    "/{account}/numbers/{number}",
    status_code=204,
    responses=problem_responses(401, 404, 422),
    summary="Unassign an inbound number",
)
async def delete_number(account: str, number: str, svc: ServicesDep) -> Response:
    await _admin(svc).remove_number(account, number)
    return Response(status_code=204)


def _limits(body: AccountLimits, fields: set[str]) -> dict[str, Any]:
    """The limits the client sent, as `AccountAdmin` takes them (null: no limit)."""
    changes: dict[str, Any] = {}
    for name in ("rate_limit", "daily_quota", "spend_cap", "price", "allowed_senders"):
        if name in fields:
            changes[name] = getattr(body, name)
    if "allowed_senders" in changes and changes["allowed_senders"] is None:
        changes["allowed_senders"] = []
    return changes


def _account(a: AccountSettings, usage: Usage | None = None) -> AccountPublic:
    return AccountPublic(
        id=a.id,
        name=a.name,
        status="active" if a.active else "suspended",
        rate_limit=a.rate_limit or None,
        daily_quota=a.daily_quota,
        spend_cap=a.spend_cap,
        allowed_senders=list(a.allowed_senders),
        price=a.price,
        created_at=a.created_at,
        updated_at=a.updated_at,
        usage=None
        if usage is None
        else UsagePublic(
            segments_today=usage.day_segments, spend_this_month=round(usage.month_spend, 6)
        ),
    )


def _credential(c: SmppCredential) -> SmppCredentialPublic:
    return SmppCredentialPublic(
        system_id=c.system_id,
        allowed_networks=list(c.allowed_networks),
        max_binds=c.max_binds,
        throughput=c.throughput,
    )
