"""The REST front door: FastAPI routers that translate HTTP into service calls."""

from __future__ import annotations

from fastapi import FastAPI

from gateway import __version__
from gateway.api import (
    admin_accounts,
    admin_connectors,
    admin_routes,
    batches,
    callbacks,
    errors,
    health,
    listing,
    messages,
    stats,
    suppressions,
    templates,
    webhooks,
)
from gateway.api.deps import ApiServices
from gateway.api.request_ids import RequestIdMiddleware
from schemas.problem import Problem

__all__ = ["ApiServices", "create_api"]


def create_api(services: ApiServices) -> FastAPI:
    app = FastAPI(
        title="SMS gateway",
        version=__version__,
        description="Submit SMS, read their status. Errors are RFC 9457 problem+json.",
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    app.state.services = services
    app.add_middleware(RequestIdMiddleware)
    errors.install(app)
    app.include_router(messages.router)
    app.include_router(health.router)
    app.include_router(callbacks.router)
    app.include_router(batches.router)
    app.include_router(templates.router)
    app.include_router(suppressions.router)
    app.include_router(suppressions.admin_router)
    app.include_router(listing.router)
    app.include_router(webhooks.router)
    app.include_router(webhooks.admin_router)
    app.include_router(stats.router)
    app.include_router(admin_accounts.router)
    app.include_router(admin_routes.router)
    app.include_router(admin_connectors.router)

    original_openapi = app.openapi

    def openapi() -> dict[str, object]:
        schema = original_openapi()
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = (
            Problem.model_json_schema()
        )
        errors.document_request_errors(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
