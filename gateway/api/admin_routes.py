"""`/v1/admin/routes`: routing rules and their prices.

Rules made here are kept in the store and tried, by position, before the configuration file's
`[[routes]]`, which are listed too but change only with the file. Connectors are in
`admin_connectors.py`.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from gateway.accounts import ListedRoute
from gateway.api.admin_accounts import _admin
from gateway.api.deps import AdminDep, ServicesDep
from gateway.api.errors import problem_responses
from schemas.admin import (
    RoutePublic,
    RoutePut,
    RoutesPublic,
)

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[AdminDep])


@router.get(
    "/routes",
    response_model=RoutesPublic,
    responses=problem_responses(401),
    summary="Routing rules in the order they are tried: stored ones, then the file's",
)
async def list_routes(svc: ServicesDep) -> RoutesPublic:
    return RoutesPublic(data=[_route(r) for r in await _admin(svc).list_routes()])


@router.put(
    "/routes/{name}",
    response_model=RoutePublic,
    responses=problem_responses(401, 422),
    summary="Create or replace a stored routing rule",
)
async def put_route(name: str, body: RoutePut, svc: ServicesDep) -> RoutePublic:
    fields = body.model_dump(exclude={"position"})
    rule = await _admin(svc).put_route(name, position=body.position, **fields)
    return _route(ListedRoute("admin", body.position, rule))


@router.delete(
    "/routes/{name}",
    status_code=204,
    responses=problem_responses(401, 404),
    summary="Delete a stored routing rule",
)
async def delete_route(name: str, svc: ServicesDep) -> Response:
    await _admin(svc).delete_route(name)
    return Response(status_code=204)


def _route(listed: ListedRoute) -> RoutePublic:
    r = listed.rule
    return RoutePublic(
        name=r.name,
        source=listed.source,
        position=listed.position,
        connectors=list(r.connectors),
        price=r.price,
        accounts=list(r.accounts),
        prefixes=list(r.prefixes),
        countries=list(r.countries),
        carriers=list(r.carriers),
        senders=list(r.senders),
        message_types=list(r.message_types),
    )
