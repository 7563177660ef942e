"""Which URLs a webhook may point at: a guard against server-side request forgery.

A tenant chooses the URL and the gateway POSTs to it from inside the operator's network, so by
default only http(s) URLs whose host resolves to public (globally routable) addresses are
allowed: never loopback, private ranges, link-local (cloud metadata at 169.254.169.254),
multicast or reserved space. The host is checked when the webhook is set and again before each
delivery, since a name may later resolve elsewhere. `webhook_allow_private` lifts the rule for
development and tests.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from gateway.domain.errors import WebhookUrlNotAllowed

MAX_URL_LENGTH = 2048


async def check_target(url: str, *, allow_private: bool) -> None:
    """Raise `WebhookUrlNotAllowed` unless `url` may receive webhooks."""
    if len(url) > MAX_URL_LENGTH:
        raise WebhookUrlNotAllowed(f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookUrlNotAllowed(f"not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise WebhookUrlNotAllowed("the URL must be http:// or https://")
    host = parts.hostname
    if not host:
        raise WebhookUrlNotAllowed("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise WebhookUrlNotAllowed("credentials in the URL are not allowed")
    if allow_private:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM
        )
    except OSError as exc:
        raise WebhookUrlNotAllowed(f"the host {host!r} does not resolve") from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if not address.is_global or address.is_multicast:
            raise WebhookUrlNotAllowed(
                f"the host {host!r} resolves to {address}, which is not a public address"
            )
