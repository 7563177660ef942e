"""A small carrier HTTP API for tests: what connectors/http/example.toml is written against.

`POST /v1/sms` with `Authorization: Bearer <token>` and a JSON body `{to, from, text, reference,
udh}` answers `{"messages": [{"id": ..., "status": "queued"}]}` and, after `receipt_delay`,
POSTs a delivery receipt `{message_id, status, err}` to `callback_url` with the shared secret in
`X-Carrier-Token`. It can be told to answer the next submits differently (`answer("429",
"500", ...)`): 429 with Retry-After, 500, 400 with a carrier error code, or slowly. It can send
an MO (`send_mo`). It runs in the test's event loop on 127.0.0.1, port chosen by the OS.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

TOKEN = "carrier-api-token-1"
CALLBACK_SECRET = "callback-secret-0123456789"


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[no-untyped-def]
        yield  # the test process keeps its own signal handling


class TestCarrier:
    __test__ = False  # not a pytest class

    def __init__(
        self,
        *,
        token: str = TOKEN,
        callback_secret: str = CALLBACK_SECRET,
        receipt_delay: float = 0.05,
        slow_delay: float = 1.5,
    ) -> None:
        self.token = token
        self.callback_secret = callback_secret
        self.receipt_delay = receipt_delay
        self.slow_delay = slow_delay
        self.callback_url: str | None = None  # where receipts go: the gateway's callback route
        self.receipt_status = "DELIVRD"
        self.send_receipts = True  # False: the test posts receipts itself
        self.requests: list[dict[str, Any]] = []  # every submit body, in arrival order
        self.callback_answers: list[int] = []  # statuses the gateway gave our receipts
        self.in_flight = 0
        self.max_in_flight = 0  # the most submits this carrier was answering at once
        self.client_ports: set[int] = set()  # distinct connections the submits came on
        self._script: deque[str] = deque()
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: _Server | None = None
        self._scheme = "http"
        self._serve_task: asyncio.Task[None] | None = None
        self._client = httpx.AsyncClient(timeout=5)
        self.app = FastAPI()
        self.app.post("/v1/sms")(self._submit)

    # -- control ----------------------------------------------------------------------------

    def answer(self, *modes: str) -> None:
        """The next submits get these answers, in order: ok, hold (ok after 50 ms), 429, 500,
        400, slow (after `slow_delay`), bad_json (a 200 without an id)."""
        self._script.extend(modes)

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.servers[0].sockets[0].getsockname()[1]
        return f"{self._scheme}://127.0.0.1:{port}"

    async def start(self, *, certfile: str | None = None, keyfile: str | None = None) -> None:
        """Serve on a port the OS picks; with `certfile` and `keyfile`, over TLS (https)."""
        self._scheme = "https" if certfile else "http"
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=0,
            lifespan="off",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=1,
            ssl_certfile=certfile,
            ssl_keyfile=keyfile,
        )
        self._server = _Server(config)
        self._serve_task = asyncio.create_task(self._server.serve())
        for _ in range(500):
            if self._server.started:
                return
            if self._serve_task.done():
                await self._serve_task
            await asyncio.sleep(0.01)
        raise RuntimeError("test carrier did not start")

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None and self._serve_task is not None:
            self._server.should_exit = True
            await asyncio.wait_for(self._serve_task, timeout=5)
        await self._client.aclose()

    # -- the API ----------------------------------------------------------------------------

    async def _submit(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return JSONResponse({"error": {"code": "auth", "message": "bad token"}}, 401)
        body = await request.json()
        self.requests.append(body)
        if request.client is not None:
            self.client_ports.add(request.client.port)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(self._script.popleft() if self._script else "ok")
        finally:
            self.in_flight -= 1

    async def _answer(self, mode: str) -> Response:
        if mode == "hold":
            await asyncio.sleep(0.05)  # long enough for concurrent submits to overlap
            mode = "ok"
        if mode == "429":
            return JSONResponse(
                {"error": {"code": "rate_limited", "message": "slow down"}},
                429,
                headers={"Retry-After": "1"},
            )
        if mode == "500":
            return JSONResponse({"error": {"code": "internal", "message": "try later"}}, 500)
        if mode == "400":
            return JSONResponse({"error": {"code": "21211", "message": "invalid 'To' number"}}, 400)
        if mode == "bad_json":
            return Response(b"<html>gateway error</html>", 200, media_type="text/html")
        if mode == "slow":
            # Answers after the gateway gave up: that id is never known to the gateway.
            await asyncio.sleep(self.slow_delay)
            return JSONResponse({"messages": [{"id": f"late{next(self._ids)}"}]})
        carrier_id = f"c{next(self._ids)}"
        self._later(self._send_receipt(carrier_id))
        return JSONResponse({"messages": [{"id": carrier_id, "status": "queued"}]})

    def _later(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_receipt(self, carrier_id: str) -> None:
        await asyncio.sleep(self.receipt_delay)
        if self.callback_url is None or not self.send_receipts:
            return
        response = await self.post_receipt(carrier_id, self.receipt_status)
        self.callback_answers.append(response.status_code)

    # -- calls to the gateway -----------------------------------------------------------------

    async def post_receipt(
        self,
        carrier_id: str,
        status: str,
        *,
        err: str = "000",
        secret: str | None = None,
    ) -> httpx.Response:
        assert self.callback_url is not None
        return await self._client.post(
            f"{self.callback_url}/receipt",
            json={"message_id": carrier_id, "status": status, "err": err},
            headers={"X-Carrier-Token": secret if secret is not None else self.callback_secret},
        )

    async def send_mo(self, *, msisdn: str, recipient: str, text: str) -> httpx.Response:
        """An MO as this carrier delivers it: form-encoded, numbers without `+`."""
        assert self.callback_url is not None
        return await self._client.post(
            f"{self.callback_url}/mo",
            data={"msisdn": msisdn, "recipient": recipient, "text": text},
            headers={"X-Carrier-Token": self.callback_secret},
        )
