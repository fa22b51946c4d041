"""Focused tests for the data, spreadsheet, XML, persistence, HTTP and sub-agent blocks."""

import asyncio
import ipaddress
import json
import shutil
import ssl
import subprocess

import httpx
import pytest

from services.blocks.agent import AgentExecutorBlock
from services.domain.blocks.base import BlockInputError, RunContext
from services.blocks.data_dicts import AddToDictionaryBlock, FindInDictionaryBlock
from services.blocks.data_list_ops import ConcatenateListsBlock, FlattenListBlock, ZipListsBlock
from services.blocks.data_lists import AddToListBlock, CreateListBlock, GetListItemBlock
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
from services.blocks.persistence import PersistInformationBlock, RetrieveInformationBlock
from services.blocks.spreadsheet import ReadSpreadsheetBlock
from services.blocks.xml_parser import XMLParserBlock, parse_xml
from tests.unit.fakes import MemoryKeyValueStore


def run(block_cls, data, ctx=None):
    async def collect():
        return [pair async for pair in block_cls().execute(data, ctx or RunContext())]

    return asyncio.run(collect())


# -- dictionaries and lists ------------------------------------------------------------------


@pytest.mark.parametrize("data, expected", [
    ({"input": {"a": 1}, "key": "a"}, [("output", 1)]),
    ({"input": {"a": 1}, "key": "b"}, [("missing", {"a": 1})]),
    ({"input": '{"a": {"b": 2}}', "key": "a"}, [("output", {"b": 2})]),
    ({"input": '{"1": "one"}', "key": 1}, [("output", "one")]),
    ({"input": "not json", "key": "a"}, [("missing", "not json")]),
    ({"input": ["x", "y"], "key": 1}, [("output", "y")]),
    ({"input": ["x", "y"], "key": -1}, [("missing", ["x", "y"])]),
    ({"input": '["x", "y"]', "key": 5}, [("missing", '["x", "y"]')]),
    ({"input": [{"k1": "v1"}, {"k2": "v2"}, {"k1": "v3"}], "key": "k1"}, [("output", ["v1", "v3"])]),
    ({"input": [{"k2": "v2"}, {"k1": "v3"}], "key": "k1"}, [("output", ["v3"])]),
    ({"input": [], "key": "k"}, [("output", [])]),
])
def test_find_in_dictionary(data, expected):
    assert run(FindInDictionaryBlock, data) == expected


def test_find_in_dictionary_object_attribute_but_not_private():
    class Thing:
        colour = "red"
        _secret = "no"

    assert run(FindInDictionaryBlock, {"input": Thing(), "key": "colour"}) == [("output", "red")]
    assert run(FindInDictionaryBlock, {"input": Thing(), "key": "_secret"})[0][0] == "missing"


def test_add_to_dictionary_does_not_mutate_input():
    original = {"a": 1}
    out = run(AddToDictionaryBlock, {"dictionary": original, "key": "b", "value": 2, "entries": {"c": 3}})
    assert out == [("updated_dictionary", {"a": 1, "b": 2, "c": 3})]
    assert original == {"a": 1}


def test_add_to_list_position():
    base = [1, "string", {"existing_key": "existing_value"}]
    out = run(AddToListBlock, {"list": base, "entry": {"new_key": "new_value"}, "position": 1})
    assert out == [("updated_list", [1, {"new_key": "new_value"}, "string", {"existing_key": "existing_value"}])]
    assert base == [1, "string", {"existing_key": "existing_value"}]
    out = run(AddToListBlock, {"list": [1, 4], "entries": [2], "entry": 3, "position": 1})
    assert out == [("updated_list", [1, 2, 3, 4])]
    assert run(AddToListBlock, {"list": [1], "entry": 0}) == [("updated_list", [1, 0])]
    assert run(AddToListBlock, {}) == [("updated_list", [])]


def test_get_list_item_negative_and_out_of_range():
    assert run(GetListItemBlock, {"list": ["a", "b", "c"], "index": -1}) == [("item", "c")]
    assert run(GetListItemBlock, {"list": ["a", "b", "c"], "index": -3}) == [("item", "a")]
    for index in (3, -4):
        out = run(GetListItemBlock, {"list": ["a", "b", "c"], "index": index})
        assert len(out) == 1 and out[0][0] == "error" and "out of range" in out[0][1]


def test_create_list_empty_and_oversized_item():
    assert run(CreateListBlock, {"values": []}) == [("list", [])]
    # One item over the token budget is yielded alone, never as an empty chunk first.
    assert run(CreateListBlock, {"values": ["x" * 40, "y"], "max_tokens": 2}) == [("list", ["x" * 40]), ("list", ["y"])]


def test_list_ops_shapes():
    with pytest.raises(BlockInputError):
        run(ConcatenateListsBlock, {"lists": [[1], "nope"]})
    assert run(FlattenListBlock, {"nested_list": [[1, [2]]], "max_depth": 0}) == [
        ("flattened_list", [[1, [2]]]), ("length", 1), ("original_depth", 3)]
    deep = current = []
    for _ in range(5000):  # deeper than the recursion limit
        nxt = []
        current.append(nxt)
        current = nxt
    current.append(1)
    assert run(FlattenListBlock, {"nested_list": deep})[0] == ("flattened_list", [1])
    assert run(ZipListsBlock, {"lists": [[1], [2, 3]], "pad_to_longest": True}) == [
        ("zipped_list", [[1, 2], [None, 3]]), ("length", 2)]


def test_spreadsheet_edge_cases():
    out = run(ReadSpreadsheetBlock, {"contents": "a,b\n1,2,3\n", "has_header": True})
    assert out == [("rows", [{"a": "1", "b": "2", "2": "3"}])]
    out = run(ReadSpreadsheetBlock, {"contents": " 1 , 2 \n", "has_header": False, "strip": False})
    assert out == [("rows", [{"0": " 1 ", "1": " 2 "}])]
    assert run(ReadSpreadsheetBlock, {})[0][0] == "error"
    assert run(ReadSpreadsheetBlock, {"file_input": "/etc/passwd"})[0][0] == "error"


# -- XML ---------------------------------------------------------------------------------------

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<lolz>&lol4;</lolz>"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<foo>&xxe;</foo>"""

EXTERNAL_PARAMETER_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY % remote SYSTEM "http://169.254.169.254/latest/meta-data/"> %remote;]>
<foo/>"""


@pytest.mark.parametrize("doc", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_PARAMETER_ENTITY])
def test_xml_malicious_documents_are_refused(doc):
    out = run(XMLParserBlock, {"input_xml": doc})
    assert len(out) == 1 and out[0][0] == "error"
    assert "root:" not in out[0][1]  # nothing from /etc/passwd leaks into the message


def test_xml_limits_and_shape():
    assert run(XMLParserBlock, {"input_xml": "<a><b>"})[0][0] == "error"
    assert run(XMLParserBlock, {"input_xml": "<a>" * 300 + "</a>" * 300})[0][0] == "error"
    assert parse_xml('<r><i>1</i><i><j>2</j><j>3</j></i>tail</r>') == {
        "r": {"i": ["1", {"j": ["2", "3"]}], "#text": "tail"}}


# -- persistence -------------------------------------------------------------------------------


def test_persistence_scopes_and_users():
    store = MemoryKeyValueStore()
    ctx_a = RunContext(kv_store=store, user_id="alice", graph_id="g1")
    ctx_a2 = RunContext(kv_store=store, user_id="alice", graph_id="g2")
    ctx_b = RunContext(kv_store=store, user_id="bob", graph_id="g1")

    assert run(PersistInformationBlock, {"key": "k", "value": "local"}, ctx_a) == [("value", "local")]
    assert run(PersistInformationBlock, {"key": "k", "value": "shared", "scope": "across_agents"}, ctx_a) == [
        ("value", "shared")]
    assert store.data == {("alice", "agent#g1#k"): "local", ("alice", "global#k"): "shared"}

    get = {"key": "k", "default_value": "dflt"}
    assert run(RetrieveInformationBlock, get, ctx_a) == [("value", "local")]
    assert run(RetrieveInformationBlock, get, ctx_a2) == [("value", "dflt")]  # other agent
    assert run(RetrieveInformationBlock, {**get, "scope": "across_agents"}, ctx_a2) == [("value", "shared")]
    assert run(RetrieveInformationBlock, {**get, "scope": "across_agents"}, ctx_b) == [("value", "dflt")]  # other user
    assert RetrieveInformationBlock.static_output is True
    assert run(RetrieveInformationBlock, get, RunContext())[0][0] == "error"


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


# -- sub-agents --------------------------------------------------------------------------------


class FakeChildRunner:
    def __init__(self, outputs):
        self.outputs = outputs
        self.calls = []

    async def run_child(self, *, graph_id, graph_version, inputs):
        self.calls.append((graph_id, graph_version, inputs))
        for pair in self.outputs:
            yield pair


AGENT_NODE = {
    "user_id": "u1",
    "graph_id": "child",
    "graph_version": 3,
    "inputs": {"question": "why?"},
    "input_schema": {"type": "object", "properties": {"question": {}, "style": {}}, "required": ["question", "style"]},
    "output_schema": {"type": "object", "properties": {"answer": {}, "sources": {}}},
}


def test_agent_executor_streams_child_outputs():
    runner = FakeChildRunner([("answer", "because"), ("sources", "a"), ("sources", "b")])
    out = run(AgentExecutorBlock, AGENT_NODE, RunContext(child_runner=runner))
    assert out == [("answer", "because"), ("sources", "a"), ("sources", "b")]
    assert runner.calls == [("child", 3, {"question": "why?"})]


def test_agent_executor_without_runner_and_node_pins():
    assert run(AgentExecutorBlock, AGENT_NODE) == [("error", "sub-graph execution is not available here")]
    assert AgentExecutorBlock.node_pins(AGENT_NODE) == ({"question", "style"}, {"answer", "sources"})
    assert AgentExecutorBlock.node_pins({}) == (set(), set())
    assert AgentExecutorBlock.node_input_defaults(AGENT_NODE) == {"question": "why?"}
    assert AgentExecutorBlock.node_missing_inputs(AGENT_NODE, {"question": "q"}) == {"style"}
    assert AgentExecutorBlock.to_dict()["uiType"] == "Agent"
