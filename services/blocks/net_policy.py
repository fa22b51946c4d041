"""Outbound address policy for blocks that make HTTP requests (server-side request forgery guard).

A graph author controls the URL a web-request block calls, and the request leaves from inside the
deployment. Without a check, an agent could read cloud metadata credentials (169.254.169.254), an
internal admin API on 10.x, or a service bound to localhost. So every destination address is
classified here before any connection is made, and only globally routable unicast addresses pass,
unless the deployment has explicitly allow-listed the host (``RunContext.http_allow_hosts``).

This module is pure: no DNS, no sockets. The caller resolves the name, passes every address it got
to ``choose_address`` and then connects to the returned address only (pinning), so a second DNS
lookup cannot swap in a private address (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}

# Instance-metadata and host-agent endpoints of the big clouds. Several of these sit in ranges
# refused anyway; listing them keeps the refusal explicit, and some (Azure's, Oracle's) are not.
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean...
    "169.254.170.2",  # AWS ECS task metadata
    "169.254.169.123",  # AWS time sync
    "fd00:ec2::254",  # AWS IMDS over IPv6
    "fd00:ec2::23",  # AWS DNS over IPv6
    "100.100.100.200",  # Alibaba Cloud
    "192.0.0.192",  # Oracle Cloud
    "168.63.129.16",  # Azure wire server (a public address, so not caught by the ranges)
))

# Ranges refused in addition to what ``ipaddress`` flags as private/reserved/etc. (some of these
# are not flagged by every Python version).
EXTRA_BLOCKED_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8",  # "this network"
    "100.64.0.0/10",  # carrier-grade NAT, used for internal services by some clouds
    "192.0.0.0/24",  # IETF protocol assignments
    "198.18.0.0/15",  # benchmarking
    "240.0.0.0/4",  # reserved, and 255.255.255.255
    "64:ff9b:1::/48",  # local-use NAT64
    "100::/64",  # discard-only
    "fc00::/7",  # unique local (includes fd00:ec2::254)
    "fec0::/10",  # deprecated site-local
))

_NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")


class BlockedDestinationError(ValueError):
    """The destination may not be contacted under the outbound policy. The message is user-safe;
    ``detail`` (what the host resolved to, and why that is refused) is for the server log only."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail or message


def refused(host: str) -> str:
    """The one answer a user gets for a refused destination. It names the host as given and never
    what it resolved to, or whether it resolved at all: otherwise a free block run maps internal
    names to private addresses (an internal DNS oracle)."""
    return f"destination not allowed: {host[:200]}"


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses carried inside an IPv6 address (6to4, Teredo, NAT64, IPv4-compatible)."""
    found: list[ipaddress.IPv4Address] = []
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    # NAT64, or deprecated IPv4-compatible ::a.b.c.d (not :: and ::1, which are IPv6's own
    # unspecified and loopback addresses and are reported as such)
    if ip in _NAT64_WELL_KNOWN or (int(ip) >> 32 == 0 and int(ip) > 1):
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def block_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` may not be contacted, or None when it is a public unicast address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            ip = ipaddress.IPv6Address(str(ip).split("%", 1)[0])
        if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d is a.b.c.d on a dual-stack socket
            inner_reason = block_reason(ip.ipv4_mapped)
            return None if inner_reason is None else f"embeds {ip.ipv4_mapped}, which is {inner_reason}"
        for inner in _embedded_ipv4(ip):
            reason = block_reason(inner)
            if reason is not None:
                return f"embeds {inner}, which is {reason}"
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    checks = (
        (ip.is_loopback, "a loopback address"),
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_private, "a private address"),
        (ip.is_reserved, "a reserved address"),
        (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local, "a site-local address"),
        (any(ip in net for net in EXTRA_BLOCKED_NETWORKS if net.version == ip.version), "a non-public address"),
        (not ip.is_global, "not a globally routable address"),
    )
    for failed, reason in checks:
        if failed:
            return reason
    return None


def is_public_address(ip: IPAddress | str) -> bool:
    return block_reason(ipaddress.ip_address(ip) if isinstance(ip, str) else ip) is None


def normalize_host(host: str) -> str:
    """Lower-case, without IPv6 brackets or a trailing root dot, so comparisons are exact."""
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host.rstrip(".")


def parse_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(normalize_host(host))
    except ValueError:
        return None


def host_allowed(host: str, allow_hosts: Iterable[str], address: IPAddress | None = None) -> bool:
    """Whether the deployment's allow-list admits ``host`` (or the ``address`` it resolved to).

    Entries are exact host names, ``*.example.com`` (any subdomain), IP addresses or CIDR ranges.
    """
    name = normalize_host(host)
    host_ip = parse_ip(name)
    for raw in allow_hosts:
        entry = normalize_host(raw)
        if not entry:
            continue
        if entry.startswith("*.") and host_ip is None:
            if name.endswith(entry[1:]):
                return True
            continue
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            if entry == name:
                return True
            continue
        for candidate in (host_ip, address):
            if candidate is not None and candidate.version == network.version and candidate in network:
                return True
    return False


def split_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL; BlockedDestinationError for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BlockedDestinationError(f"invalid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise BlockedDestinationError(f"only http and https URLs are allowed, not {scheme or 'none'!r}")
    if not parts.hostname:
        raise BlockedDestinationError("the URL has no host")
    return scheme, normalize_host(parts.hostname), port or DEFAULT_PORTS[scheme]


def choose_address(host: str, addresses: Iterable[str], allow_hosts: Iterable[str] = ()) -> str:
    """The address to connect to for ``host``, given everything it resolved to.

    Every resolved address must pass (a name resolving to both a public and a private address is
    refused: that is how rebinding attacks look). An allow-listed host name skips the check;
    an allow-listed IP or range admits just those addresses.
    """
    allow_hosts = tuple(allow_hosts)
    resolved = [ipaddress.ip_address(a.split("%", 1)[0]) for a in addresses]
    if not resolved:
        raise BlockedDestinationError(refused(host), f"{host} did not resolve to any address")
    name_allowed = host_allowed(host, [e for e in allow_hosts if parse_ip(e.split("/")[0]) is None])
    if not name_allowed:
        for ip in resolved:
            reason = block_reason(ip)
            if reason is not None and not host_allowed(host, allow_hosts, ip):
                raise BlockedDestinationError(refused(host), f"{host} resolves to {ip}, {reason}")
    chosen = resolved[0]
    if isinstance(chosen, ipaddress.IPv6Address) and chosen.ipv4_mapped is not None:
        return str(chosen.ipv4_mapped)  # connect over IPv4: works without a dual-stack socket
    return str(chosen)
