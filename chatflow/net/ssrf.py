"""The SSRF guard: outbound HTTP that cannot reach internal addresses.

Every connection is checked *after* DNS resolution, on the address actually dialled:
the guard resolves the host itself, drops addresses that are not public (loopback,
private, link-local, multicast, reserved, unspecified, CGNAT, cloud metadata ...) and
connects to an approved IP literal, so DNS rebinding cannot swap in another address
between check and connect. Each redirect hop is a new request, so it is checked again
(scheme, host name and the new connection). Operators can allow hosts or CIDRs
(`ssrf_allow`), which is also how tests reach loopback servers.

    client = guarded_client("localhost, 10.0.0.0/8")
    response = await client.get(url)      # raises SSRFBlocked for a refused target
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx

from chatflow.errors import ChatflowError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = frozenset({"http", "https"})
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata.goog", "metadata"})
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)

# IANA's special-purpose registries (IPv4 and IPv6), whole: a range that is "globally
# reachable" there (6to4 relays, AMT, AS112) still leads somewhere the operator did not
# choose. Tunnels and translators that embed an IPv4 address (6to4, Teredo, NAT64,
# IPv4-mapped/compatible/translated) are refused as a whole rather than decoded.
SPECIAL_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.31.196.0/24",
        "192.52.193.0/24", "192.88.99.0/24", "192.168.0.0/16", "192.175.48.0/24",
        "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
        "255.255.255.255/32",
        "::/128", "::1/128", "::/96", "::ffff:0:0/96", "::ffff:0:0:0/96", "64:ff9b::/96",
        "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32", "2002::/16",
        "3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
    )
)  # fmt: skip
# Outside 2000::/3 nothing is assigned as global unicast: refused whatever it is.
GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")


class SSRFBlocked(ChatflowError):
    """An outbound request to a target the SSRF guard refuses."""

    code = "invalid_param"
    status = 400


@dataclass(frozen=True, slots=True)
class SSRFPolicy:
    """Hosts (exact, or `*.suffix`) and networks that are reachable despite the guard."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()
    schemes: frozenset[str] = field(default=ALLOWED_SCHEMES)

    @classmethod
    def parse(cls, allow: str | Iterable[str] = "") -> SSRFPolicy:
        """`allow` is the `ssrf_allow` setting: comma-separated hosts and CIDRs."""
        items = allow.split(",") if isinstance(allow, str) else list(allow)
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for raw in items:
            item = raw.strip().lower()
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
            except ValueError:
                hosts.add(item)
        return cls(hosts=frozenset(hosts), networks=tuple(networks))

    def host_allowed(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        if host in self.hosts:
            return True
        return any(h.startswith("*.") and host.endswith(h[1:]) for h in self.hosts)

    def address_allowed(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks)

    def check_url(self, url: httpx.URL | str) -> None:
        """Refuse a URL by scheme or by name before any connection is made."""
        parsed = httpx.URL(url) if isinstance(url, str) else url
        if parsed.scheme not in self.schemes:
            raise SSRFBlocked(f"URL scheme {parsed.scheme or '(none)'!r} is not allowed")
        host = parsed.host.lower().rstrip(".")
        if not host:
            raise SSRFBlocked("URL has no host")
        if self.host_allowed(host):
            return
        if host in METADATA_HOSTS or host == "localhost" or host.endswith(".localhost"):
            raise SSRFBlocked(f"requests to {host} are not allowed")
        literal = _ip_literal(host)
        if literal is not None:
            self.check_address(host, literal)

    def check_address(self, host: str, address: IPAddress) -> None:
        if self.host_allowed(host) or self.address_allowed(address):
            return
        if blocked(address):
            # The host as the caller wrote it, never the address it resolved to: that
            # would map the internal network for whoever controls the URL.
            raise SSRFBlocked(f"requests to {host} are not allowed: not a public address")


def blocked(address: IPAddress) -> bool:
    """True for every address that is not plainly public."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id is not None or address not in GLOBAL_UNICAST_V6:
            return True
    if any(address in network for network in SPECIAL_NETWORKS):
        return True
    return (
        address in METADATA_ADDRESSES
        or not address.is_global
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address.is_loopback
        or address.is_link_local
        or address.is_private
    )


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return None


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks and then dials the approved IP (the host name stays for TLS/SNI)."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend, policy: SSRFPolicy) -> None:
        self._inner = inner
        self._policy = policy

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's backend signature
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await _resolve(host, port, timeout)
        for address in addresses:
            # A name that resolves to any refused address is refused as a whole.
            self._policy.check_address(host, address)
        timed_out = False
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError:  # try the next address, like a browser
                continue
            except httpcore.ConnectTimeout:
                timed_out = True
        # The OS's message names the address dialled; the caller only learns the host.
        if timed_out:
            raise httpcore.ConnectTimeout(f"connecting to {host}:{port} timed out")
        raise httpcore.ConnectError(f"could not connect to {host}:{port}")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's backend signature
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise SSRFBlocked("unix socket connections are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


async def _resolve(host: str, port: int, limit: float | None) -> list[IPAddress]:
    literal = _ip_literal(host)
    if literal is not None:
        return [literal]
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(limit):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError) as exc:
        raise httpcore.ConnectError(f"could not resolve {host}: {exc}") from exc
    seen: dict[IPAddress, None] = {}
    for info in infos:
        seen[ipaddress.ip_address(str(info[4][0]).split("%")[0])] = None
    return list(seen)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with every TCP connection going through `GuardedBackend`."""

    def __init__(self, policy: SSRFPolicy, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # httpx builds its httpcore pool without a backend seam; swap the dialer in.
        self._pool._network_backend = GuardedBackend(self._pool._network_backend, policy)


@functools.cache
def _default_tls() -> ssl.SSLContext:
    """httpx's default verifying TLS context, built once: building one loads the CA
    bundle (~80 ms here), which every tool call and remote fetch would otherwise pay."""
    return httpx.create_ssl_context()


def guarded_client(
    allow: SSRFPolicy | str | Iterable[str] = "",
    *,
    verify: ssl.SSLContext | bool = True,
    timeout: httpx.Timeout | float = 30.0,
    follow_redirects: bool = True,
    max_redirects: int = 5,
) -> httpx.AsyncClient:
    """An `httpx.AsyncClient` that refuses internal targets on every hop and connection.

    Environment proxies are ignored: a proxy would be the address dialled, and the guard
    must see the real target.
    """
    policy = allow if isinstance(allow, SSRFPolicy) else SSRFPolicy.parse(allow)

    async def check_request(request: httpx.Request) -> None:
        policy.check_url(request.url)

    return httpx.AsyncClient(
        transport=GuardedTransport(policy, verify=_default_tls() if verify is True else verify),
        timeout=timeout,
        follow_redirects=follow_redirects,
        max_redirects=max_redirects,
        trust_env=False,
        event_hooks={"request": [check_request]},
    )
