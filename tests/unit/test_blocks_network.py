"""Focused tests for outbound HTTP: the network policy, the guarded fetch and the web request block."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import shutil
import ssl
import subprocess

import httpx
import pytest

from services.blocks.http import SendWebRequestBlock
from services.blocks.http_fetch import FetchError, guarded_fetch, redirect_method, strip_credentials
from services.blocks.net_policy import (
    BlockedDestinationError,
    block_reason,
    choose_address,
    host_allowed,
    is_public_address,
    split_url,
)
from services.domain.blocks.base import RunContext

# -- outbound network policy -------------------------------------------------------------------


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "169.254.1.1",
    "0.0.0.0", "100.64.0.1", "100.100.100.200", "192.0.0.192", "168.63.129.16", "224.0.0.1", "239.255.255.250",
    "255.255.255.255", "240.0.0.1", "::1", "::", "fc00::1", "fd00:ec2::254", "fe80::1", "fec0::1", "ff02::1",
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1", "::127.0.0.1", "2002:7f00:1::1",
    "2002:a9fe:a9fe::1", "64:ff9b::a9fe:a9fe", "64:ff9b::7f00:1",
])
def test_non_public_addresses_are_refused(address):
    assert block_reason(ipaddress.ip_address(address)) is not None
    with pytest.raises(BlockedDestinationError):
        choose_address("example.com", [address])


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address):
    assert is_public_address(address)
    assert choose_address("example.com", [address]) == address.removeprefix("::ffff:")


def test_mixed_resolution_is_refused_and_allow_list_works():
    with pytest.raises(BlockedDestinationError):
        choose_address("rebind.example", ["93.184.216.34", "10.0.0.1"])
    assert choose_address("internal.corp", ["10.0.0.5"], ["internal.corp"]) == "10.0.0.5"
    assert choose_address("INTERNAL.corp.", ["10.0.0.5"], ["internal.corp"]) == "10.0.0.5"
    assert choose_address("a.svc.local", ["10.0.0.6"], ["*.svc.local"]) == "10.0.0.6"
    assert choose_address("10.0.0.7", ["10.0.0.7"], ["10.0.0.0/24"]) == "10.0.0.7"
    assert choose_address("db.corp", ["10.0.0.8"], ["10.0.0.8"]) == "10.0.0.8"
    with pytest.raises(BlockedDestinationError):
        choose_address("other.corp", ["10.0.0.9"], ["internal.corp", "10.0.0.8"])
    assert host_allowed("[::1]", ["::1"])
    assert not host_allowed("evil-internal.corp", ["internal.corp"])
    assert not host_allowed("svc.local", ["*.svc.local"])


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://x/", "ftp://example.com/", "http:///nohost", "http://x:99999/"])
def test_split_url_refuses_bad_urls(url):
    with pytest.raises(BlockedDestinationError):
        split_url(url)


def test_split_url_defaults():
    assert split_url("https://Example.com/x") == ("https", "example.com", 443)
    assert split_url("http://[::1]:8080/") == ("http", "::1", 8080)


# -- guarded fetch: redirects, pinning, limits ---------------------------------------------------

DNS = {"api.example": ["93.184.216.34"], "other.example": ["93.184.216.35"], "evil.example": ["127.0.0.1"],
       "metadata.example": ["169.254.169.254"]}


async def fake_resolve(host, port):
    try:
        return DNS[host]
    except KeyError:
        raise FetchError(f"could not resolve {host}") from None


def fetch(handler, url, **kwargs):
    seen = []

    def recording(request):
        seen.append(request)
        return handler(request)

    transport = httpx.MockTransport(recording)
    kwargs.setdefault("resolver", fake_resolve)
    result = asyncio.run(guarded_fetch(kwargs.pop("method", "GET"), url, transport=transport, **kwargs))
    return result, seen


def test_fetch_pins_the_checked_address_and_keeps_the_host_name():
    result, seen = fetch(lambda r: httpx.Response(200, text="ok"), "https://api.example/v1?q=1")
    assert result.status == 200 and result.body == b"ok"
    request = seen[0]
    assert request.url.host == "93.184.216.34" and request.url.path == "/v1" and request.url.query == b"q=1"
    assert request.headers["host"] == "api.example"
    assert request.extensions["sni_hostname"] == "api.example"


def test_fetch_refuses_private_targets_before_connecting():
    for url in ("http://evil.example/", "http://metadata.example/latest", "http://127.0.0.1:8080/", "http://[::1]/"):
        with pytest.raises(FetchError, match="not allowed"):
            fetch(lambda r: pytest.fail("must not connect"), url)


def test_redirect_to_private_address_is_refused():
    def handler(request):
        return httpx.Response(302, headers={"location": "http://169.254.169.254/latest/meta-data/"})

    with pytest.raises(FetchError, match="not allowed"):
        fetch(handler, "http://api.example/start")


def test_redirect_to_name_resolving_private_is_refused_each_hop():
    def handler(request):
        if request.headers["host"] == "api.example":
            return httpx.Response(307, headers={"location": "http://other.example/next"})
        return httpx.Response(301, headers={"location": "http://evil.example/final"})

    with pytest.raises(FetchError, match="evil.example"):
        fetch(handler, "http://api.example/")


def test_redirect_drops_credentials_across_origins_only():
    def handler(request):
        path = request.url.path
        if path == "/a":
            return httpx.Response(302, headers={"location": "/b"})  # same origin
        if path == "/b":
            return httpx.Response(307, headers={"location": "https://other.example/c"})
        return httpx.Response(200, json={"ok": True})

    headers = {"Authorization": "Bearer s3cret", "Cookie": "sid=1", "X-Api-Key": "k", "Accept": "application/json"}
    result, seen = fetch(handler, "http://api.example/a", headers=headers, method="PUT", content=b"{}")
    assert result.status == 200 and json.loads(result.body) == {"ok": True}
    assert [r.headers["host"] for r in seen] == ["api.example", "api.example", "other.example"]
    assert seen[1].headers["authorization"] == "Bearer s3cret"
    assert "authorization" not in seen[2].headers and "cookie" not in seen[2].headers
    assert "x-api-key" not in seen[2].headers and seen[2].headers["accept"] == "application/json"
    assert seen[2].method == "PUT" and seen[2].content == b"{}"  # 307 keeps method and body
    assert result.url == "https://other.example/c"


def test_redirect_method_rewrite_and_limit():
    assert redirect_method(303, "PUT") == "GET"
    assert redirect_method(302, "POST") == "GET"
    assert redirect_method(308, "POST") == "POST"
    assert redirect_method(303, "HEAD") == "HEAD"

    def post_then_get(request):
        if request.url.path == "/form":
            return httpx.Response(303, headers={"location": "/done"})
        return httpx.Response(200, text=request.method)

    result, seen = fetch(post_then_get, "http://api.example/form", method="POST", content=b"a=1",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert result.body == b"GET" and seen[1].content == b"" and "content-type" not in seen[1].headers

    loop = lambda r: httpx.Response(302, headers={"location": "/again"})  # noqa: E731
    with pytest.raises(FetchError, match="redirects"):
        fetch(loop, "http://api.example/", max_redirects=3)
    with pytest.raises(FetchError, match="only http and https"):
        fetch(lambda r: httpx.Response(302, headers={"location": "file:///etc/passwd"}), "http://api.example/")


def test_response_size_cap_and_timeout():
    with pytest.raises(FetchError, match="larger than"):
        fetch(lambda r: httpx.Response(200, content=b"x" * 2000), "http://api.example/", max_bytes=1000)

    async def slow(request):
        await asyncio.sleep(5)
        return httpx.Response(200)

    async def go():
        return await guarded_fetch("GET", "http://api.example/", transport=httpx.MockTransport(slow),
                                   resolver=fake_resolve, timeout=0.1)

    with pytest.raises(FetchError, match="timed out"):
        asyncio.run(go())


def test_strip_credentials():
    kept = strip_credentials(httpx.Headers({"Authorization": "x", "X-Auth-Token": "y", "Session-Id": "z",
                                            "Accept": "a", "User-Agent": "b"}))
    assert dict(kept) == {"accept": "a", "user-agent": "b"}


def test_fetch_against_local_server_with_allow_list():
    """End to end over a real socket on 127.0.0.1: refused by default, allowed when allow-listed."""

    async def scenario():
        received = []

        async def handle(reader, writer):
            head = await reader.readuntil(b"\r\n\r\n")
            received.append(head.decode())
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n"
                         b"Connection: close\r\n\r\n{\"ok\": 1}\r\n")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]

        async def resolve(host, p):
            return ["127.0.0.1"]

        try:
            with pytest.raises(FetchError, match="not allowed"):
                await guarded_fetch("GET", f"http://svc.internal:{port}/x", resolver=resolve)
            result = await guarded_fetch("GET", f"http://svc.internal:{port}/x", resolver=resolve,
                                         allow_hosts=["svc.internal"])
        finally:
            server.close()
            await server.wait_closed()
        return result, received, port

    result, received, port = asyncio.run(scenario())
    assert result.status == 200
    assert len(received) == 1 and received[0].startswith("GET /x HTTP/1.1")
    assert f"host: svc.internal:{port}" in received[0].lower()


def test_requests_share_one_tls_context(monkeypatch):
    """Every destination's transport (pinned to the checked address) shares one TLS context: the CA
    bundle is loaded once, where building it took ~35 ms of CPU per HTTP block run."""
    from services.blocks import http_fetch

    built = []
    real = ssl.create_default_context
    monkeypatch.setattr(ssl, "create_default_context", lambda *a, **k: built.append(1) or real(*a, **k))
    http_fetch.tls_context.cache_clear()

    async def resolve(host, port):
        return ["127.0.0.1"]

    async def scenario():  # three names: three destinations, so three transports
        async with _KeepAliveServer() as server:
            bodies = [(await guarded_fetch("GET", f"http://{name}.internal:{server.port}/", resolver=resolve,
                                           allow_hosts=[f"{name}.internal"])).body for name in "abc"]
        assert server.connections == 3
        return bodies

    try:
        assert asyncio.run(scenario()) == [b"ok"] * 3
        assert len(built) == 1
    finally:
        http_fetch.tls_context.cache_clear()


def test_the_llm_gateway_shares_the_web_requests_tls_context(monkeypatch):
    """A process loads the CA bundle once, when its LLM gateway is built at start, and a run's first
    web request then finds it loaded (it paid ~35-65 ms for its own before)."""
    from services.blocks import http_fetch
    from services.blocks.llm_providers.gateway import LlmGateway

    built = []
    real = ssl.create_default_context
    monkeypatch.setattr(ssl, "create_default_context", lambda *a, **k: built.append(1) or real(*a, **k))
    http_fetch.tls_context.cache_clear()
    try:
        gateway = LlmGateway()
        http_fetch.tls_context()
        assert len(built) == 1
        asyncio.run(gateway.aclose())
    finally:
        http_fetch.tls_context.cache_clear()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI to make a test certificate")
def test_https_pinning_still_verifies_the_certificate_name(tmp_path):
    """The connection goes to the checked IP, but TLS is verified against the original host name."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=svc.internal", "-addext", "subjectAltName=DNS:svc.internal"],
                   check=True, capture_output=True)

    async def scenario():
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_ctx.load_cert_chain(str(cert), str(key))

        async def handle(reader, writer):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)
        port = server.sockets[0].getsockname()[1]

        async def resolve(host, p):
            return ["127.0.0.1"]

        outcomes = {}
        try:
            for host in ("svc.internal", "other.internal"):
                transport = httpx.AsyncHTTPTransport(verify=ssl.create_default_context(cafile=str(cert)))
                try:
                    result = await guarded_fetch("GET", f"https://{host}:{port}/", resolver=resolve,
                                                 allow_hosts=[host], transport=transport)
                    outcomes[host] = result.body
                except FetchError as exc:
                    outcomes[host] = str(exc)
        finally:
            server.close()
            await server.wait_closed()
        return outcomes

    outcomes = asyncio.run(scenario())
    assert outcomes["svc.internal"] == b"ok"
    assert "CERTIFICATE_VERIFY_FAILED" in outcomes["other.internal"]


class _KeepAliveServer:
    """A local HTTP/1.1 server that keeps connections open, counts them and records each request's
    head; its first response sets a cookie."""

    def __init__(self, ssl_context=None) -> None:
        self.connections = 0
        self.heads: list[str] = []
        self._ssl = ssl_context

    async def __aenter__(self):
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self._ssl)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc):
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader, writer):
        self.connections += 1
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode()
                self.heads.append(head)
                cookie = b"Set-Cookie: session=alice-secret\r\n" if len(self.heads) == 1 else b""
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n" + cookie + b"\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def test_requests_to_one_destination_reuse_a_connection_and_share_no_cookies():
    """A kept connection serves the next request to the same host name and checked address (a new
    one per request cost ~2 ms of CPU); the first response's cookie is not sent with the next."""
    from services.blocks import http_connections

    async def scenario():
        async with _KeepAliveServer() as server:
            url = f"http://127.0.0.1:{server.port}/x"
            bodies = [(await guarded_fetch("GET", url, allow_hosts=["127.0.0.1"])).body for _ in range(3)]
            await http_connections.close_this_loops_connections()
        return bodies, server

    bodies, server = asyncio.run(scenario())
    assert bodies == [b"ok"] * 3
    assert server.connections == 1 and len(server.heads) == 3
    assert not any("cookie" in head.lower() for head in server.heads)


def test_a_connection_is_never_reused_for_another_host_name_on_the_same_address():
    """Two names resolving to one address get a connection each: a pool is keyed by the name as
    well as the checked address, so neither the Host nor an https certificate check is shared."""

    async def resolve(host, port):
        return ["127.0.0.1"]

    async def scenario():
        async with _KeepAliveServer() as server:
            for host in ("a.internal", "b.internal", "a.internal", "b.internal"):
                await guarded_fetch("GET", f"http://{host}:{server.port}/", resolver=resolve,
                                    allow_hosts=["a.internal", "b.internal"])
        return server

    server = asyncio.run(scenario())
    assert server.connections == 2
    hosts = [next(line.split(":", 1)[1].strip() for line in head.split("\r\n") if line.lower().startswith("host:"))
             for head in server.heads]
    assert hosts == [f"{h}:{server.port}" for h in ("a.internal", "b.internal", "a.internal", "b.internal")]


def test_a_connection_the_server_closed_is_not_reused():
    """A server that hangs up after each answer (without saying so) costs a new connection per
    request, never a failed one: a POST is not sent into a closed connection."""

    async def scenario():
        connections = []

        async def handle(reader, writer):
            connections.append(1)
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            statuses = [(await guarded_fetch("POST", f"http://127.0.0.1:{port}/", content=b"x",
                                             allow_hosts=["127.0.0.1"])).status for _ in range(4)]
        finally:
            server.close()
            await server.wait_closed()
        return statuses, len(connections)

    assert asyncio.run(scenario()) == ([200] * 4, 4)


def test_idle_connections_are_bounded_expire_and_never_outlive_an_error():
    from services.blocks import http_connections
    from services.blocks.http_connections import ConnectionPools

    class Transport:
        def __init__(self):
            self.closed = False

        async def aclose(self):
            self.closed = True

    now = [0.0]

    async def scenario():
        pools = ConnectionPools(Transport, max_destinations=2, max_idle=2, clock=lambda: now[0])
        a, b, c = (("http", name, "192.0.2.1", 80) for name in "abc")
        async with pools.lease(a) as first, pools.lease(a) as second, pools.lease(a) as third:
            assert len({id(first), id(second), id(third)}) == 3  # one request per connection
        assert pools.idle_count(a) == 2 and first.closed  # the last to end found the idle bound reached
        async with pools.lease(a) as again:
            assert again is second  # the one kept last (the requests ended third, second, first)
        with pytest.raises(RuntimeError):
            async with pools.lease(a) as failed:
                raise RuntimeError("the request failed")
        assert failed is second and failed.closed and pools.idle_count(a) == 1  # not kept after an error
        async with pools.lease(b) as kept_b, pools.lease(c):
            pass
        assert third.closed and len(pools) == 2  # a, the least recently used destination, closed
        now[0] += http_connections.IDLE_SECONDS + 1
        async with pools.lease(b) as fresh:
            pass
        assert fresh is not kept_b and kept_b.closed  # the expired one was closed, not lent
        assert pools.idle_count(b) == 1
        async with pools.lease(c) as running:
            await pools.aclose()
            assert fresh.closed and len(pools) == 0
        assert running.closed and len(pools) == 0  # a request running at the close closes its own

    asyncio.run(scenario())


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI to make a test certificate")
def test_a_kept_https_connection_is_not_reused_for_a_name_its_certificate_does_not_cover(tmp_path, monkeypatch):
    """A verified connection to svc.internal at 127.0.0.1 stays open; a request for other.internal,
    which resolves to the same address, still makes (and fails) its own certificate check."""
    from services.blocks import http_connections, http_fetch

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=svc.internal", "-addext", "subjectAltName=DNS:svc.internal"],
                   check=True, capture_output=True)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    monkeypatch.setattr(http_fetch, "tls_context", lambda: client_ctx)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(str(cert), str(key))

    async def resolve(host, port):
        return ["127.0.0.1"]

    async def scenario():
        outcomes = []
        async with _KeepAliveServer(server_ctx) as server:
            for host in ("svc.internal", "svc.internal", "other.internal"):
                try:
                    result = await guarded_fetch("GET", f"https://{host}:{server.port}/", resolver=resolve,
                                                 allow_hosts=[host])
                    outcomes.append(result.body)
                except FetchError as exc:
                    outcomes.append(str(exc))
            await http_connections.close_this_loops_connections()
        return outcomes, server

    outcomes, server = asyncio.run(scenario())
    assert outcomes[:2] == [b"ok", b"ok"]
    assert "CERTIFICATE_VERIFY_FAILED" in outcomes[2]
    assert len(server.heads) == 2  # other.internal's request never went out
    # svc.internal's two requests went on one connection (other.internal's handshake, refused by the
    # client, never reached the server's handler)
    assert server.connections == 1


def test_web_request_block_routes_and_reports_policy_errors():
    calls = []

    async def fake_send(method, url, headers, content, allow_hosts):
        calls.append((method, url, headers, content, allow_hosts))
        raise FetchError("requests to 10.0.0.1 are not allowed")

    block = SendWebRequestBlock()
    block._send = fake_send

    async def go():
        ctx = RunContext(http_allow_hosts=("internal.corp",))
        return [p async for p in block.execute({"url": "http://10.0.0.1/", "body": {"a": 1},
                                                  "headers": {"content-type": "application/vnd+json"}}, ctx)]

    assert asyncio.run(go()) == [("error", "requests to 10.0.0.1 are not allowed")]
    method, url, headers, content, allow_hosts = calls[0]
    assert method == "POST" and json.loads(content) == {"a": 1} and allow_hosts == ("internal.corp",)
    assert headers["content-type"] == "application/vnd+json" and headers["content-length"] == str(len(content))


def test_web_request_block_multipart_files():
    captured = {}

    async def fake_send(method, url, headers, content, allow_hosts):
        captured.update(headers=headers, content=content)
        from services.blocks.http_fetch import FetchResult
        return FetchResult(200, {"content-type": "text/plain"}, b"done", url)

    block = SendWebRequestBlock()
    block._send = fake_send

    async def go():
        return [p async for p in block.execute({"url": "https://api.example/upload", "body": {"note": "hi"},
                                                  "files": ["data:text/plain;base64,aGVsbG8="]}, RunContext())]

    assert asyncio.run(go()) == [("response", "done")]
    assert captured["headers"]["content-type"].startswith("multipart/form-data; boundary=")
    assert b'name="file"' in captured["content"] and b"hello" in captured["content"] and b"hi" in captured["content"]
