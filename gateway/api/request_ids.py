"""Request ids: every HTTP request gets one (the client's `X-Request-ID` when it is sane, a new
one otherwise), echoed in the response and attached to every log line written while serving it.

A pure ASGI middleware, not Starlette's BaseHTTPMiddleware: that one costs a task and a memory
stream per request on the hottest path the gateway has.

A new id is 64 bits from the process's PRNG, not the OS's CSPRNG: an id correlates log lines
and grants nothing, while `secrets.token_hex` made a system call per request that releases the
GIL (and may wait up to the switch interval to take it back from the store's writer thread).
"""

from __future__ import annotations

import random
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway import logs

HEADER = b"x-request-id"
# What a client may choose: short, printable, no separators that could forge log fields.
_SANE = re.compile(rb"^[A-Za-z0-9._:-]{1,64}$")


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == HEADER), b"")
        rid = given if _SANE.match(given) else b"%016x" % random.getrandbits(64)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (HEADER, rid)]
            await send(message)

        token = logs.request_id.set(rid.decode())
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            logs.request_id.reset(token)
