"""The REST front door: FastAPI routers that translate HTTP into service calls."""

from __future__ import annotations

from fastapi import FastAPI

from gateway import __version__
from gateway.api import admin_accounts, admin_routes, callbacks, errors, health, messages
from gateway.api.deps import ApiServices
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
    errors.install(app)
    app.include_router(messages.router)
    app.include_router(health.router)
    app.include_router(callbacks.router)
    app.include_router(admin_accounts.router)
    app.include_router(admin_routes.router)

    original_openapi = app.openapi

    def openapi() -> dict[str, object]:
        schema = original_openapi()
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = (
            Problem.model_json_schema()
        )
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
