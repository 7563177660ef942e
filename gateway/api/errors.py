"""Every error leaves the API as RFC 9457 problem+json with a stable `code`."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway.domain import GatewayError
from gateway.domain.errors import CLIENT_ERRORS, MalformedRequest

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
    if 401 in codes and 429 not in codes:
        codes = (*codes, 429)  # an address with many wrong keys is paused: auth.throttled
    for status in codes:
        names = sorted(e.code for e in CLIENT_ERRORS if e.http_status == status)
        if status == 422:
            names.append("request.validation_failed")
        out[status] = {
            "description": "Problem: " + ", ".join(dict.fromkeys(names)),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    return out


_VERBS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def _allowed_methods(request: Request) -> list[str]:
    """Every method the OpenAPI description gives the request's path (read from the schema, not
    from the router, whose internals FastAPI changes between releases)."""
    paths = request.app.openapi().get("paths", {})
    path = request.url.path
    # A literal path is its own resource (`/v1/messages/batch`), not an id of a template's.
    matching = [paths[path]] if path in paths else []
    for template, operations in paths.items():
        parts = re.split(r"(\{[^/]+?\})", template)
        pattern = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
        if not matching and re.fullmatch(pattern, path):
            matching.append(operations)
    methods = {m.upper() for operations in matching for m in operations if m in _VERBS}
    if "GET" in methods:
        methods.add("HEAD")  # Starlette answers HEAD wherever GET is allowed
    return sorted(methods)


def document_request_errors(schema: dict[str, Any]) -> None:
    """Every operation that reads a body may answer 400 (not JSON) and 422 (not the expected
    shape), and every one with parameters 422: say so in OpenAPI without each route repeating it."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            statuses: list[int] = []
            if "requestBody" in operation:
                statuses += [400, 422]
            elif operation.get("parameters"):
                statuses.append(422)
            responses = operation["responses"]
            for status, response in problem_responses(*statuses).items():
                current = responses.get(str(status))
                # FastAPI's own 422 describes its JSON error list, which we never send.
                if current is None or current.get("description") == "Validation Error":
                    responses[str(status)] = response


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
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:
            # FastAPI's answer to a body json.loads could not read at all (invalid UTF-8,
            # nesting deeper than the parser's recursion limit): the catalogue's malformed body.
            return problem(
                400,
                MalformedRequest.code,
                MalformedRequest.title,
                "the body is not valid UTF-8 JSON (or is nested too deeply)",
            )
        code = {404: "http.not_found", 405: "http.method_not_allowed"}.get(
            exc.status_code, "http.error"
        )
        response = problem(exc.status_code, code, str(exc.detail), str(exc.detail))
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:
            # RFC 9110 §15.5.6: `Allow` lists every method of the resource. Starlette names only
            # the first route matching the path, and GET and DELETE are separate routes here.
            allowed = _allowed_methods(request)
            if allowed:
                response.headers["Allow"] = ", ".join(allowed)
        return response

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error in request")
        return problem(500, "internal.error", "Internal error", "an unexpected error occurred")
