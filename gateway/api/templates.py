"""`/v1/templates`: templates an account keeps by name, for batches to use."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from gateway.api.deps import AccountDep, ServicesDep
from gateway.api.errors import problem_responses
from gateway.domain.batches import StoredTemplate
from gateway.domain.errors import TemplateNotFound
from gateway.templates import parse_template
from schemas.templates import (
    TEMPLATE_NAME_PATTERN,
    TemplatePublic,
    TemplatesPublic,
    TemplateWrite,
)

router = APIRouter(prefix="/v1/templates", tags=["templates"])
TemplateName = Annotated[str, Path(pattern=TEMPLATE_NAME_PATTERN, description="1-64 characters")]


@router.put(
    "/{name}",
    response_model=TemplatePublic,
    responses=problem_responses(401, 422),
    summary="Create or replace a stored template",
)
async def put_template(
    name: TemplateName, body: TemplateWrite, account: AccountDep, svc: ServicesDep
) -> TemplatePublic:
    """The text is checked now (`template.invalid` with the offset), not at the first batch."""
    parse_template(body.text)
    stored = await svc.store.put_template(
        account_id=account.id, name=name, text=body.text, now=time.time()
    )
    return _public(stored)


@router.get(
    "/{name}",
    response_model=TemplatePublic,
    responses=problem_responses(401, 404),
    summary="Read a stored template",
)
async def get_template(name: str, account: AccountDep, svc: ServicesDep) -> TemplatePublic:
    return _public(await find_template(svc, account.id, name))


@router.get(
    "",
    response_model=TemplatesPublic,
    responses=problem_responses(401),
    summary="List stored templates by name",
)
async def list_templates(
    account: AccountDep,
    svc: ServicesDep,
    after: Annotated[str, Query(max_length=64)] = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> TemplatesPublic:
    found = await svc.store.list_templates(account_id=account.id, after=after, limit=limit)
    return TemplatesPublic(
        templates=[_public(t) for t in found],
        next_after=found[-1].name if len(found) == limit else None,
    )


@router.delete(
    "/{name}",
    status_code=204,
    responses=problem_responses(401, 404),
    summary="Delete a stored template",
)
async def delete_template(name: str, account: AccountDep, svc: ServicesDep) -> Response:
    if not await svc.store.delete_template(account_id=account.id, name=name):
        raise TemplateNotFound(f"no template {name!r} in this account")
    return Response(status_code=204)


async def find_template(svc: ServicesDep, account_id: str, name: str) -> StoredTemplate:
    stored = await svc.store.get_template(account_id=account_id, name=name)
    if stored is None:
        # Another account's template is "not found" too.
        raise TemplateNotFound(f"no template {name!r} in this account")
    return stored


def _public(t: StoredTemplate) -> TemplatePublic:
    parsed = parse_template(t.text)
    return TemplatePublic(
        name=t.name,
        text=t.text,
        variables=sorted(parsed.variables),
        required=sorted(parsed.required),
        created_at=t.created_at,
        updated_at=t.updated_at,
    )
