"""Which URLs a webhook may point at: a guard against server-side request forgery.

A tenant chooses the URL and the gateway POSTs to it from inside the operator's network, so by
default only http(s) URLs whose host resolves to public (globally routable) addresses are
allowed: never loopback, private ranges, link-local (cloud metadata at 169.254.169.254),
multicast or reserved space. `webhook_allow_private` lifts the rule for development and tests.

The host is checked when the webhook is set, and again at every connection: `CheckedTransport`
resolves the name itself, refuses it if any address is not public, and connects to the address
it checked, never letting the HTTP client resolve the name a second time. Checking the name
and then handing it to the client would leave a window for DNS rebinding (a name with a short
TTL that answers a public address to the check and 127.0.0.1 to the connect). The request keeps
the URL's host in its `Host` header and TLS server name, so certificates are verified against
the name as usual.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import typing
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import httpcore
import httpx

from gateway.domain.errors import WebhookUrlNotAllowed

MAX_URL_LENGTH = 2048

# host, port -> the addresses it resolves to (numeric strings). A parameter so tests can stand
# in for a DNS server that answers differently each time (rebinding).
Resolver = Callable[[str, int], Awaitable[list[str]]]


async def resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def public_addresses(host: str, port: int, *, resolver: Resolver = resolve) -> list[str]:
    """The addresses `host` resolves to, all public; else `WebhookUrlNotAllowed`."""
    try:
        addresses = await resolver(host, port)
    except OSError as exc:
        raise WebhookUrlNotAllowed(f"the host {host!r} does not resolve") from exc
    if not addresses:
        raise WebhookUrlNotAllowed(f"the host {host!r} does not resolve")
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if not address.is_global or address.is_multicast:
            raise WebhookUrlNotAllowed(
                f"the host {host!r} resolves to {address}, which is not a public address"
            )
    return addresses


async def check_target(url: str, *, allow_private: bool, resolver: Resolver = resolve) -> None:
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
    default_port = 443 if parts.scheme == "https" else 80
    await public_addresses(host, port or default_port, resolver=resolver)


class CheckedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with the address check at connect time: the name is resolved
    here, checked, and the connection made to a checked address."""

    def __init__(self, *, allow_private: bool, resolver: Resolver = resolve) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._allow_private = allow_private
        self._resolver = resolver

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if self._allow_private:
            return await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        try:
            addresses = await public_addresses(host, port, resolver=self._resolver)
        except WebhookUrlNotAllowed as exc:
            raise httpcore.ConnectError(exc.detail) from exc
        error: Exception | None = None
        for address in dict.fromkeys(addresses):  # in resolver order, each once
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks are never sent over a Unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class CheckedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport on a `CheckedBackend`: every connection a webhook POST opens goes to an
    address checked at that moment. No proxy (an egress proxy would resolve the name itself)."""

    def __init__(
        self,
        *,
        allow_private: bool,
        limits: httpx.Limits,
        resolver: Resolver = resolve,
    ) -> None:
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            # SSL_CERT_FILE / SSL_CERT_DIR still apply (a private CA bundle); proxies do not.
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=CheckedBackend(allow_private=allow_private, resolver=resolver),
        )
