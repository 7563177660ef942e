"""`/v1/callbacks/{connector}`: carriers report receipts and MO messages over HTTP.

No API key here: a carrier cannot hold one of ours. The connector authenticates the request
itself (a shared secret or a body signature, compared in constant time) and answers 200 only
after what the request carried is committed. This router only translates: it bounds the body,
finds the connector, hands it a framework-free `CallbackRequest` and renders what comes back.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from gateway.api.deps import ServicesDep
from gateway.api.errors import problem
from gateway.connector import CallbackConnector, CallbackRejected, CallbackRequest

router = APIRouter(prefix="/v1/callbacks", tags=["callbacks"])

# A receipt or an MO is a few hundred bytes; a batch of receipts a few kilobytes. Anything
# larger is refused before it is buffered whole.
MAX_CALLBACK_BODY = 64 * 1024

_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"description": description, "content": {"application/problem+json": {}}}
    for status, description in (
        (400, "Malformed callback (callback.malformed)"),
        (401, "Bad or missing secret or signature (callback.unauthorized)"),
        (404, "No such connector, or no callbacks at that path"),
        (413, "Body too large (callback.too_large)"),
        (503, "Not stored; send it again (callback.not_committed, callback.unavailable)"),
    )
}


class _BodyTooLargeError(Exception):
    pass


async def _bounded_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_CALLBACK_BODY:
        raise _BodyTooLargeError
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_CALLBACK_BODY:
            raise _BodyTooLargeError
    return bytes(body)


def _rejected(exc: CallbackRejected) -> JSONResponse:
    response = problem(exc.status, exc.code, exc.title, exc.detail)
    # problem() announces Bearer for a 401; a callback's credentials are the connector's own.
    if "www-authenticate" in response.headers:
        del response.headers["www-authenticate"]
    return response


async def _callback(connector: str, path: str, request: Request, svc: ServicesDep) -> Response:
    target = svc.connectors.get(connector)
    if not isinstance(target, CallbackConnector):
        return problem(
            404,
            "callback.unknown_connector",
            "Unknown connector",
            f"no connector {connector!r} takes callbacks",
        )
    try:
        body = await _bounded_body(request)
    except _BodyTooLargeError:
        return problem(
            413,
            "callback.too_large",
            "Callback body too large",
            f"callback bodies are limited to {MAX_CALLBACK_BODY} bytes",
        )
    query: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        query.setdefault(key, value)
    callback = CallbackRequest(
        method=request.method,
        path=path,
        headers={k.lower(): v for k, v in request.headers.items()},
        query=query,
        body=body,
    )
    try:
        answer = await target.handle_callback(callback)
    except CallbackRejected as exc:
        return _rejected(exc)
    return Response(
        content=answer.body,
        status_code=answer.status,
        headers=dict(answer.headers),
        media_type=answer.media_type,
    )


# One route per method: a shared route would give GET and POST the same OpenAPI operationId.
@router.get(
    "/{connector}",
    responses=_RESPONSES,
    operation_id="carrier_callback_get",
    summary="A carrier's delivery receipt or MO message (authenticated by the connector)",
)
@router.post(
    "/{connector}",
    responses=_RESPONSES,
    operation_id="carrier_callback_post",
    summary="A carrier's delivery receipt or MO message (authenticated by the connector)",
)
async def callback(connector: str, request: Request, svc: ServicesDep) -> Response:
    return await _callback(connector, "", request, svc)


@router.get(
    "/{connector}/{path:path}",
    responses=_RESPONSES,
    operation_id="carrier_callback_path_get",
    summary="A carrier's callback on a sub-path (e.g. /receipt or /mo)",
)
@router.post(
    "/{connector}/{path:path}",
    responses=_RESPONSES,
    operation_id="carrier_callback_path_post",
    summary="A carrier's callback on a sub-path (e.g. /receipt or /mo)",
)
async def callback_path(connector: str, path: str, request: Request, svc: ServicesDep) -> Response:
    return await _callback(connector, path, request, svc)
