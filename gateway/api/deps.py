"""Typed dependencies shared by the routers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway.domain import Account
from gateway.domain.errors import Unauthorized
from gateway.intake import Intake
from gateway.keys import KeyAuthenticator
from gateway.metrics import Metrics
from gateway.store import Store


@dataclass
class ApiServices:
    store: Store
    intake: Intake
    keys: KeyAuthenticator
    metrics: Metrics
    readiness: Any  # async () -> (ready: bool, body: dict)
    # Connectors by name; those that are `CallbackConnector`s take /v1/callbacks/{name}.
    connectors: Mapping[str, Any] = field(default_factory=dict)


async def services(request: Request) -> ApiServices:
    # async: FastAPI runs a plain `def` dependency in a thread pool, one hop per request.
    svc: ApiServices = request.app.state.services
    return svc


ServicesDep = Annotated[ApiServices, Depends(services)]
_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer gw_...`")


async def authenticate(
    svc: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Account:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("send an API key as `Authorization: Bearer <key>`")
    account = await svc.keys.authenticate(credentials.credentials)
    if account is None:
        raise Unauthorized("the API key is not valid")
    return account


AccountDep = Annotated[Account, Depends(authenticate)]
