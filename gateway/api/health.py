"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from gateway.api.deps import ServicesDep

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Ready for traffic: the store answers and the node is not draining")
async def readyz(svc: ServicesDep) -> JSONResponse:
    # A carrier being down does not make the node unready: messages queue durably until it is
    # back, so the body reports upstream binds without failing the probe on them.
    ready, body = await svc.readiness()
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics(svc: ServicesDep) -> Response:
    await svc.scrape_gauges.refresh()
    return Response(svc.metrics.render(), media_type=CONTENT_TYPE_LATEST)
