"""Typed dependencies shared by the routers."""

from __future__ import annotations

import hmac
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway.accounts import AccountAdmin
from gateway.auth_throttle import FailedAuthThrottle
from gateway.batches import Batches
from gateway.cancellation import Cancellation
from gateway.connector_admin import ConnectorAdmin
from gateway.domain import Account
from gateway.domain.errors import AdminUnauthorized, AuthThrottled, Unauthorized
from gateway.idempotency import Idempotency
from gateway.intake import Intake
from gateway.keys import KeyAuthenticator, key_digest
from gateway.metrics import Metrics
from gateway.scrape_gauges import ScrapeGauges
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
    # Addresses presenting wrong API keys are paused (per node, bounded).
    auth_throttle: FailedAuthThrottle = field(default_factory=FailedAuthThrottle)
    # What /metrics reads from the store (readiness, the shared queue).
    scrape_gauges: ScrapeGauges = field(kw_only=True)


async def services(request: Request) -> ApiServices:
    # async: FastAPI runs a plain `def` dependency in a thread pool, one hop per request.
    svc: ApiServices = request.app.state.services
    return svc


ServicesDep = Annotated[ApiServices, Depends(services)]
_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer gw_...`")


async def authenticate(
    request: Request,
    svc: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Account:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("send an API key as `Authorization: Bearer <key>`")
    key = credentials.credentials
    peer = request.client.host if request.client is not None else "?"
    wait = svc.auth_throttle.retry_after(peer)
    if wait > 0:
        # Refused without a store read, unless the key is one verified moments ago.
        account = svc.keys.cached(key)
        if account is None:
            raise AuthThrottled(
                "too many invalid API keys from this address; retry later",
                retry_after=math.ceil(wait),
            )
        return account
    account = await svc.keys.authenticate(key)
    if account is None:
        svc.auth_throttle.failed(peer)
        svc.metrics.auth_failures.labels(surface="rest").inc()
        raise Unauthorized("the API key is not valid")
    svc.auth_throttle.succeeded(peer)
    return account


AccountDep = Annotated[Account, Depends(authenticate)]


async def authenticate_admin(
    request: Request,
    svc: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Admin routes take `Authorization: Bearer <GATEWAY_ADMIN_KEY>`; the comparison is on
    digests and constant-time, so neither timing nor length tells anything about the key. The
    admin key is chosen by the operator and may be guessable: an address that keeps presenting
    wrong ones is paused like one with wrong API keys (the same per-address throttle)."""
    peer = request.client.host if request.client is not None else "?"
    wait = svc.auth_throttle.retry_after(peer)
    if wait > 0:
        raise AuthThrottled(
            "too many invalid keys from this address; retry later", retry_after=math.ceil(wait)
        )
    expected = svc.admin_key_hash
    presented = key_digest(credentials.credentials) if credentials is not None else ""
    if (
        expected is None
        or credentials is None
        or credentials.scheme.lower() != "bearer"
        or not hmac.compare_digest(presented, expected)
    ):
        if credentials is not None and expected is not None:
            svc.auth_throttle.failed(peer)
            svc.metrics.auth_failures.labels(surface="admin").inc()
        raise AdminUnauthorized("send the admin key as `Authorization: Bearer <key>`")
    svc.auth_throttle.succeeded(peer)


# Put on an admin router: `APIRouter(prefix="/v1/admin/...", dependencies=[AdminDep])`.
AdminDep = Depends(authenticate_admin)
