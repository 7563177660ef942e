"""Typed dependencies shared by the routers."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway.accounts import AccountAdmin
from gateway.batches import Batches
from gateway.cancellation import Cancellation
from gateway.connector_admin import ConnectorAdmin
from gateway.domain import Account
from gateway.domain.errors import AdminUnauthorized, Unauthorized
from gateway.idempotency import Idempotency
from gateway.intake import Intake
from gateway.keys import KeyAuthenticator, hash_key
from gateway.metrics import Metrics
from gateway.store import Store
from gateway.suppression import OptOutPolicies


@dataclass
class ApiServices:
    store: Store
    intake: Intake
    keys: KeyAuthenticator
    metrics: Metrics
    readiness: Any  # async () -> (ready: bool, body: dict)
    # Connectors by name; those that are `CallbackConnector`s take /v1/callbacks/{name}.
    connectors: Mapping[str, Any] = field(default_factory=dict)
    # SHA-256 of GATEWAY_ADMIN_KEY; None: the admin API refuses everyone.
    admin_key_hash: str | None = None
    batches: Batches = field(kw_only=True)
    idempotency: Idempotency = field(kw_only=True)
    cancellation: Cancellation = field(kw_only=True)
    # Per-node cache of opt-out lists; routes that change a list invalidate it here.
    optout: OptOutPolicies | None = None
    # Webhook delivery (woken by a replay) and whether private webhook targets are allowed.
    webhooks: Any = None
    webhook_allow_private: bool = False
    # The account administration service behind /v1/admin (None: not offered).
    admin: AccountAdmin | None = None
    # Connector administration behind /v1/admin/connectors (None: not offered).
    connector_admin: ConnectorAdmin | None = None


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


async def authenticate_admin(
    svc: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Admin routes take `Authorization: Bearer <GATEWAY_ADMIN_KEY>`; the comparison is on
    digests and constant-time, so neither timing nor length tells anything about the key."""
    expected = svc.admin_key_hash
    presented = hash_key(credentials.credentials) if credentials is not None else ""
    if (
        expected is None
        or credentials is None
        or credentials.scheme.lower() != "bearer"
        or not hmac.compare_digest(presented, expected)
    ):
        raise AdminUnauthorized("send the admin key as `Authorization: Bearer <key>`")


# Put on an admin router: `APIRouter(prefix="/v1/admin/...", dependencies=[AdminDep])`.
AdminDep = Depends(authenticate_admin)
