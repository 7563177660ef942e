"""`/v1/admin/connectors`: carriers defined, changed, stopped and removed at run time.

Guarded by the admin key. A change is in force on this node when the response is sent and on
every other node within `GATEWAY_ADMIN_REFRESH_INTERVAL` (`gateway/connector_set.py`). The
configuration's connectors are listed with `source: "config"`: they may be stopped and started
here, not changed or deleted (409 `connector.config_managed`). Secret options are write-only.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from gateway.api.deps import AdminDep, ServicesDep
from gateway.api.errors import problem_responses
from gateway.connector_admin import ConnectorAdmin, ConnectorView
from gateway.connector_set import redact
from gateway.domain.errors import InternalError
from schemas.admin import (
    BindPublic,
    ConnectorCreate,
    ConnectorPublic,
    ConnectorsPublic,
    ConnectorUpdate,
)

router = APIRouter(prefix="/v1/admin/connectors", tags=["admin"], dependencies=[AdminDep])

_UP_STATES = frozenset({"bound", "up"})


def _admin(svc: ServicesDep) -> ConnectorAdmin:
    if svc.connector_admin is None:  # an API built without the service (tests of other parts)
        raise InternalError("connector administration is not configured on this node")
    return svc.connector_admin


@router.get(
    "",
    response_model=ConnectorsPublic,
    responses=problem_responses(401),
    summary="Connectors (configured and made here) with the state of their binds",
)
async def list_connectors(svc: ServicesDep) -> ConnectorsPublic:
    return ConnectorsPublic(data=[_public(v) for v in _admin(svc).all()])


@router.post(
    "",
    status_code=201,
    response_model=ConnectorPublic,
    responses=problem_responses(401, 409, 422),
    summary="Define a connector; it starts on every node",
)
async def create_connector(body: ConnectorCreate, svc: ServicesDep) -> ConnectorPublic:
    view = await _admin(svc).create(
        body.name, kind=body.kind, options=body.options, rate=float(body.rate)
    )
    return _public(view)


@router.get(
    "/{name}",
    response_model=ConnectorPublic,
    responses=problem_responses(401, 404),
    summary="One connector and its live state on this node",
)
async def get_connector(name: str, svc: ServicesDep) -> ConnectorPublic:
    return _public(_admin(svc).get(name))


@router.patch(
    "/{name}",
    response_model=ConnectorPublic,
    responses=problem_responses(401, 404, 409, 422),
    summary="Change options or rate; the connector is replaced without losing in-flight work",
)
async def update_connector(name: str, body: ConnectorUpdate, svc: ServicesDep) -> ConnectorPublic:
    rate = None if body.rate is None else float(body.rate)
    return _public(await _admin(svc).update(name, options=body.options, rate=rate))


@router.delete(
    "/{name}",
    status_code=204,
    responses=problem_responses(401, 404, 409),
    summary="Stop and remove a connector no route names",
)
async def delete_connector(name: str, svc: ServicesDep) -> Response:
    await _admin(svc).delete(name)
    return Response(status_code=204)


@router.post(
    "/{name}/stop",
    response_model=ConnectorPublic,
    responses=problem_responses(401, 404),
    summary="Stop a connector on every node: its traffic fails over or waits",
)
async def stop_connector(name: str, svc: ServicesDep) -> ConnectorPublic:
    return _public(await _admin(svc).set_enabled(name, False))


@router.post(
    "/{name}/start",
    response_model=ConnectorPublic,
    responses=problem_responses(401, 404),
    summary="Start a stopped connector on every node",
)
async def start_connector(name: str, svc: ServicesDep) -> ConnectorPublic:
    return _public(await _admin(svc).set_enabled(name, True))


def _public(view: ConnectorView) -> ConnectorPublic:
    spec = view.spec
    options, secrets = redact(spec.options)
    return ConnectorPublic(
        name=spec.name,
        kind=spec.kind,
        source=spec.source,
        default=view.default,
        enabled=spec.enabled,
        state="running" if view.running else "stopped",
        rate=spec.rate,
        options=options,
        secrets=secrets,
        binds=[BindPublic(name=b.name, state=b.state, in_flight=b.in_flight) for b in view.binds],
        binds_up=sum(1 for b in view.binds if b.state in _UP_STATES),
        in_flight=sum(b.in_flight for b in view.binds),
        queue_depth=view.queue_depth,
        breaker=view.breaker,
        created_at=spec.created_at,
        updated_at=spec.updated_at,
    )
