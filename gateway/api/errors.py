"""Every error leaves the API as RFC 9457 problem+json with a stable `code`."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway.domain import GatewayError
from gateway.domain.errors import CLIENT_ERRORS

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://smsgw.dev/problems/"


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {
        "type": TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    # A limit that knows when it frees up says so (`retry_after`, seconds); others: 1 s.
    retry_after = extra.get("retry_after")
    headers = {"Retry-After": str(retry_after or 1)} if status in (429, 503) else None
    if status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for a route: problem+json with the codes each status can carry."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in codes:
        names = sorted(e.code for e in CLIENT_ERRORS if e.http_status == status)
        if status == 422:
            names.append("request.validation_failed")
        out[status] = {
            "description": "Problem: " + ", ".join(dict.fromkeys(names)),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    return out


def install(app: FastAPI) -> None:
    @app.exception_handler(GatewayError)
    async def gateway_error(_: Request, exc: GatewayError) -> JSONResponse:
        if exc.http_status >= 500:
            log.error("internal error: %s", exc.detail)
        return problem(exc.http_status, exc.code, exc.title, exc.detail, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"] if p != "body"), "message": e["msg"]}
            for e in exc.errors()
        ]
        malformed = any(
            e["type"] in ("json_invalid", "model_attributes_type") for e in exc.errors()
        )
        if malformed:
            return problem(
                400,
                "request.malformed",
                "Malformed request body",
                "the body is not a JSON object of the expected shape",
                errors=errors,
            )
        return problem(
            422,
            "request.validation_failed",
            "Request validation failed",
            "; ".join(f"{e['field'] or 'body'}: {e['message']}" for e in errors),
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "http.not_found", 405: "http.method_not_allowed"}.get(
            exc.status_code, "http.error"
        )
        return problem(exc.status_code, code, str(exc.detail), str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error in request")
        return problem(500, "internal.error", "Internal error", "an unexpected error occurred")
