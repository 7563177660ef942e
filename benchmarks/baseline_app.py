"""The REST baseline: the cheapest FastAPI endpoint at the gateway's path, a constant 202 JSON.

Served by uvicorn with the gateway's HTTP settings (see `processes.UvicornBaseline`), under the
same load generator, it marks what FastAPI + uvicorn + the generator cost by themselves, so the
rest-submit ratio is what the gateway adds: auth, validation, encoding, the commit, dispatch.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse

app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

_ACCEPTED = {"id": "01JDZZZZZZZZZZZZZZZZZZZZZZ", "status": "accepted", "segments": 1}


@app.post("/v1/messages", status_code=202)
async def submit_message() -> JSONResponse:
    return JSONResponse(_ACCEPTED, status_code=202)
