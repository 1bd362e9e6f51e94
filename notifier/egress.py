"""Where the notifier may send: the URL and address policy of webhooks and push subscriptions.

A recipient chooses the URL, so the notifier must not become a way into the network it runs in. A URL is
`https` (plain `http` only under ATA_NOTIFIER_ALLOW_LOOPBACK_HTTP, the embedded stack's development setting),
without credentials, at most MAX_URL_LENGTH characters, and its host must resolve only to public unicast
addresses: loopback (again only under the development setting), private, link-local (cloud metadata),
CGNAT, multicast, reserved, unspecified, documentation ranges and IPv6 forms that embed an IPv4 address are
refused. The check runs at registration and again at every connection: the delivery client's network
backend resolves the host once, checks every address, and connects to a checked address, so a DNS answer
that changes between the check and the connection (DNS rebinding) cannot slip through. TLS still verifies
the certificate against the URL's host name (SNI and Host header are the URL's).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

MAX_URL_LENGTH = 2048
#: How long resolving a host may take at registration (a delivery's whole attempt has its own timeout).
RESOLVE_TIMEOUT_S = 5.0

#: Resolves (host, port) to IP address strings; raises OSError (socket.gaierror) when the name does not resolve.
Resolver = Callable[[str, int], Awaitable[list[str]]]

#: Refused beside what `ipaddress` calls non-global: IPv6 prefixes that carry an IPv4 address a gateway would
#: reach for us (6to4, NAT64 well-known and local-use), deprecated site-local, the IETF protocol assignments
#: (DS-Lite, dummy addresses) and the deprecated 6to4 relay anycast that Python 3.11 still counts as global.
_ALSO_REFUSED = tuple(
    ipaddress.ip_network(n)
    for n in ("2002::/16", "64:ff9b::/96", "64:ff9b:1::/48", "fec0::/10", "192.0.0.0/24", "192.88.99.0/24")
)


class Blocked(Exception):
    """The URL or one of its host's addresses is not a place the notifier sends to.

    `category` is what the delivery log and the metrics show (never the addresses themselves):
    `blocked_scheme`, `blocked_url`, `blocked_address` or `dns`."""

    def __init__(self, category: str, detail: str) -> None:
        super().__init__(detail)
        self.category = category


@dataclass(frozen=True)
class Policy:
    #: Development only: plain http and loopback addresses (the embedded stack's local receiver).
    allow_loopback_http: bool = False


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_address(address: str, policy: Policy) -> None:
    """Raise Blocked unless `address` (an IP literal) is a public unicast address (or loopback under the
    development setting). Pure: no I/O; the tests call it with private and metadata addresses directly."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError as exc:
        raise Blocked("blocked_address", f"not an IP address: {address!r}") from exc
    if isinstance(ip, ipaddress.IPv6Address):
        ip = ipaddress.IPv6Address(ip.packed)  # without a scope id (fe80::1%eth0 is link-local either way)
        if ip.ipv4_mapped is not None or ip.teredo is not None:
            raise Blocked("blocked_address", f"{ip} embeds an IPv4 address")
    if any(ip in net for net in _ALSO_REFUSED):
        raise Blocked("blocked_address", f"{ip} is in a refused range")
    if ip.is_loopback:
        if policy.allow_loopback_http:
            return
        raise Blocked("blocked_address", f"{ip} is loopback")
    # is_global is False for private, link-local, CGNAT (100.64/10), documentation, reserved and unspecified
    # addresses; multicast ranges count as global in the ipaddress tables, so they are refused by name.
    if not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_link_local or ip.is_unspecified:
        raise Blocked("blocked_address", f"{ip} is not a public unicast address")


def check_url(url: str, policy: Policy) -> tuple[str, int]:
    """The host and port of an acceptable endpoint URL; raises Blocked otherwise (no DNS here)."""
    if len(url) > MAX_URL_LENGTH:
        raise Blocked("blocked_url", f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Blocked("blocked_url", "the URL cannot be parsed") from exc
    allowed = ("https", "http") if policy.allow_loopback_http else ("https",)
    if parts.scheme not in allowed:
        raise Blocked("blocked_scheme", "endpoints must use https")
    if parts.username is not None or parts.password is not None:
        raise Blocked("blocked_url", "the URL must not carry credentials")
    if not parts.hostname:
        raise Blocked("blocked_url", "the URL has no host")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


class Guard:
    """The policy and the resolver together: checks URLs and resolves hosts to checked addresses."""

    def __init__(self, policy: Policy, resolver: Resolver | None = None) -> None:
        self.policy = policy
        self.resolver = resolver or system_resolver

    async def addresses(self, host: str, port: int) -> list[str]:
        """Every address of `host`, each checked; raises Blocked if any is refused or none resolves.
        One refused address refuses the host: a name answering both public and private addresses is a
        name someone can point at the inside."""
        try:
            found = [str(ipaddress.ip_address(host.strip("[]")))]
        except ValueError:
            try:
                found = await self.resolver(host, port)
            except (OSError, UnicodeError) as exc:
                raise Blocked("dns", f"{host} does not resolve: {exc}") from exc
        if not found:
            raise Blocked("dns", f"{host} has no address")
        for address in found:
            check_address(address, self.policy)
        return found

    async def check_endpoint(self, url: str) -> None:
        """At registration: the URL's form and every address its host resolves to now."""
        host, port = check_url(url, self.policy)
        async with asyncio.timeout(RESOLVE_TIMEOUT_S):
            await self.addresses(host, port)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore network backend that connects only to addresses the guard checked, resolved once per connection."""

    def __init__(self, guard: Guard, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.guard = guard
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        failure: Exception | None = None
        for address in await self.guard.addresses(host, port):
            try:
                return await self.inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise Blocked("blocked_url", "unix sockets are not endpoints")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with the guarded network backend: no proxies from the environment, no redirects
    (the client never follows them), every new connection resolved and checked."""

    def __init__(self, guard: Guard, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        super().__init__(trust_env=False)
        # httpx (0.28) takes no network backend, so the pool it made is replaced by the same pool with ours.
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(guard, inner),
        )


def client(guard: Guard, timeout_s: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=GuardedTransport(guard), timeout=timeout_s, follow_redirects=False, trust_env=False
    )


def failure_category(exc: BaseException) -> str:
    """What the delivery log says about a failed attempt: a category, never the error's text (which would
    tell a recipient what answers inside the network)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, Blocked):
            return current.category
        if isinstance(current, (TimeoutError, httpx.TimeoutException, httpcore.TimeoutException)):
            return "timeout"
        if isinstance(current, ssl.SSLError):
            return "tls"
        if isinstance(current, socket.gaierror):
            return "dns"
        if isinstance(current, ConnectionRefusedError):
            return "refused"
        if isinstance(current, ConnectionResetError):
            return "reset"
        current = current.__cause__ or current.__context__
    if isinstance(exc, (httpx.ConnectError, httpcore.ConnectError)):
        return "connect"
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.LocalProtocolError)):
        return "protocol"
    return "network"
