"""An HTTP client that enforces the outbound policy of ``net_policy`` on every hop.

Why not plain ``httpx`` with ``follow_redirects=True``: the policy must hold for the address that
is actually connected to, on every redirect. So for each hop this module

1. checks the scheme and resolves the host itself, refusing private/metadata/etc. addresses
   unless allow-listed (``net_policy.choose_address``);
2. connects to that checked IP (the URL is rewritten to the IP) while sending the original
   ``Host`` header and, for https, the original name as SNI (``sni_hostname``) so the TLS
   certificate is still verified against the real host name; a later DNS answer cannot change
   where the connection goes. A connection is kept for the next request to the same host name
   and checked address (``http_connections``), never for another;
3. follows redirects by hand (at most ``max_redirects``), re-running 1-2 for the new URL, applying
   the usual method rewrite (303, and 301/302 after POST, become a body-less GET), and dropping
   Authorization/Cookie/API-key style headers once the origin changes;
4. streams the body with a size cap, and bounds the whole exchange (DNS, redirects, body) by one
   overall timeout.

Environment proxies are ignored (``trust_env=False``): a proxy would do its own DNS resolution and
defeat the pinning. ``transport`` and ``resolver`` are injectable for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass

import httpx

from services.blocks import http_connections
from services.blocks.net_policy import (
    DEFAULT_PORTS,
    BlockedDestinationError,
    choose_address,
    parse_ip,
    refused,
    split_url,
)

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 10 * 1024 * 1024
TOTAL_TIMEOUT_SECONDS = 30.0
MAX_REDIRECTS = 10
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

# Headers that carry credentials; removed when a redirect leaves the original origin.
_CREDENTIAL_HEADER = re.compile(
    r"^(authorization|proxy-authorization|cookie|cookie2)$|api[-_]?key|token|secret|passw|auth|credential|session",
    re.IGNORECASE,
)
_BODY_HEADERS = ("content-type", "content-length", "transfer-encoding", "content-encoding")

Resolver = Callable[[str, int], Awaitable[list[str]]]


class FetchError(Exception):
    """The request could not be completed under the policy or limits. The message is user-safe."""


@dataclass
class FetchResult:
    status: int
    headers: dict[str, str]
    body: bytes
    url: str


async def system_resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6), via the OS resolver."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        # the same answer as a private address: whether an internal name exists is not for users
        log.info("outbound request refused: could not resolve %s: %s", host, exc.strerror or exc)
        raise FetchError(refused(host)) from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _origin(url: httpx.URL) -> tuple[str, str, int]:
    scheme = url.scheme.lower()
    return scheme, (url.host or "").lower(), url.port or DEFAULT_PORTS.get(scheme, 0)


def _host_header(host: str, port: int, scheme: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port == DEFAULT_PORTS[scheme] else f"{shown}:{port}"


def strip_credentials(headers: httpx.Headers) -> httpx.Headers:
    return httpx.Headers([(k, v) for k, v in headers.multi_items() if not _CREDENTIAL_HEADER.search(k)])


def redirect_method(status: int, method: str) -> str:
    """The method for the next hop, as browsers and httpx do it."""
    if status == 303 and method != "HEAD":
        return "GET"
    if status in (301, 302) and method == "POST":
        return "GET"
    return method


async def _pinned_address(host: str, port: int, allow_hosts: tuple[str, ...], resolver: Resolver) -> str:
    if parse_ip(host) is not None:
        addresses = [host]
    else:
        addresses = await resolver(host, port)
    return choose_address(host, addresses, allow_hosts)


async def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"response is larger than {max_bytes} bytes")
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.aiter_bytes():  # decoded bytes, so compressed bombs are capped too
        total += len(chunk)
        if total > max_bytes:
            raise FetchError(f"response is larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The TLS settings (CA bundle loaded) every request shares. httpx builds a new context for
    each transport made without one, and loading the CA bundle costs about 35 ms of CPU: more than
    everything else the executor does for a node. A context is safe to share across connections."""
    return httpx.create_ssl_context()


def _new_transport() -> httpx.AsyncHTTPTransport:
    return httpx.AsyncHTTPTransport(retries=0, verify=tls_context(), limits=http_connections.one_connection())


@contextlib.asynccontextmanager
async def _hop_transport(injected: httpx.AsyncBaseTransport | None,
                         destination: http_connections.Destination) -> AsyncIterator[httpx.AsyncBaseTransport]:
    """The transport for one hop: a test's own, else the kept connections to the checked
    destination (``http_connections``)."""
    if injected is not None:
        yield injected
        return
    async with http_connections.pools_for_this_loop(_new_transport).lease(destination) as transport:
        yield transport


async def guarded_fetch(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | Iterable[tuple[str, str]] | None = None,
    content: bytes | None = None,
    allow_hosts: Iterable[str] = (),
    transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver | None = None,
    max_redirects: int = MAX_REDIRECTS,
    max_bytes: int = MAX_RESPONSE_BYTES,
    timeout: float = TOTAL_TIMEOUT_SECONDS,
) -> FetchResult:
    """Send one request under the outbound policy, following redirects; see the module docstring."""
    try:
        async with asyncio.timeout(timeout):
            return await _fetch(method.upper(), url, httpx.Headers(headers or {}), content, tuple(allow_hosts),
                                transport, resolver or system_resolve, max_redirects, max_bytes, timeout)
    except TimeoutError:
        raise FetchError(f"request timed out after {timeout:g} seconds") from None
    except BlockedDestinationError as exc:
        log.info("outbound request refused: %s", exc.detail)
        raise FetchError(str(exc)) from None
    except httpx.HTTPError as exc:
        raise FetchError(f"request failed: {type(exc).__name__}: {exc}") from None


async def _fetch(method: str, url: str, headers: httpx.Headers, content: bytes | None, allow_hosts: tuple[str, ...],
                 transport: httpx.AsyncBaseTransport | None, resolver: Resolver, max_redirects: int,
                 max_bytes: int, timeout: float) -> FetchResult:
    try:
        current = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise FetchError(f"invalid URL: {exc}") from None
    first_origin = _origin(current)
    for _hop in range(max_redirects + 1):
        scheme, host, port = split_url(str(current))
        address = await _pinned_address(host, port, allow_hosts, resolver)
        hop_headers = httpx.Headers(headers)
        hop_headers["Host"] = _host_header(host, port, scheme)
        extensions = {"sni_hostname": host} if scheme == "https" else {}
        async with _hop_transport(transport, (scheme, host, address, port)) as hop_transport:
            # A client per hop, never closed (closing it would close the shared transport): its
            # cookie jar dies with it, so no cookie reaches another request.
            client = httpx.AsyncClient(transport=hop_transport, trust_env=False, follow_redirects=False,
                                       timeout=httpx.Timeout(timeout))
            request = client.build_request(method, current.copy_with(host=address), headers=hop_headers,
                                           content=content, extensions=extensions)
            response = await client.send(request, stream=True)
            try:
                location = response.headers.get("location")
                if response.status_code not in REDIRECT_STATUSES or not location:
                    body = await _read_capped(response, max_bytes)
                    return FetchResult(response.status_code, dict(response.headers), body, str(current))
            finally:
                await response.aclose()
        try:
            target = current.join(location)
        except httpx.InvalidURL as exc:
            raise FetchError(f"invalid redirect location: {exc}") from None
        new_method = redirect_method(response.status_code, method)
        if new_method != method:
            method, content = new_method, None
            for name in _BODY_HEADERS:
                headers.pop(name, None)
        if _origin(target) != first_origin:
            headers = strip_credentials(headers)
        current = target
    raise FetchError(f"more than {max_redirects} redirects")
