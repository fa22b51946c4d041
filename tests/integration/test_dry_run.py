"""Dry runs end to end (real gateway, store, relay, broker, projector and executor): a graph with an
HTTP request and an LLM call, both pointed at local servers that count what reaches them, runs to
COMPLETED without reaching either, charges nothing, feeds the blocks' dry-run outputs to the pure
blocks downstream and says ``is_dry_run`` everywhere; a dry run is accepted at a zero balance, and
a sub-graph run of a dry run is a dry run too."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import pytest_asyncio
from pydantic import SecretStr

from services.domain.credits.ledger import ledger_stream_id
from services.domain.integrations.system import SYSTEM_CREDENTIALS
from services.infra.eventstore import EventStore
from tests.conftest import drop_schema, isolated_settings
from tests.fake_llm import FakeLlmServer
from tests.integration.stack import running_stack

INPUT = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
OUTPUT = "363ae599-353e-4804-937e-b2ee3cef3da4"
TEMPLATE = "db7d8f02-2f44-4c55-ab7a-eae0941f0c30"
FIND = "0e50422c-6dee-4145-83d6-3a5a392f65de"
WEB = "6595ae1f-b924-42cb-9a41-551a0611c4b4"
TEXT_GENERATOR = "1f292d4a-41a4-4977-9684-7c8d560b9f91"
AGENT_EXECUTOR = "e189baac-8c20-45a1-94a7-55177ea42565"
SYSTEM_OPENAI = {"id": SYSTEM_CREDENTIALS["openai"][0], "provider": "openai", "type": "api_key",
                 "title": "Use Credits for OpenAI"}
WEB_COST, LLM_COST = 2, 3  # gpt-4o on the platform's key costs 3 (the built-in table)
DRY_ANSWER = "Bonjour tout le monde ! via POST"  # the blocks' dry-run outputs, through the template


class CountingHttpServer:
    """A local HTTP API that counts the requests reaching it and answers ``{"method": "REAL"}``."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                server.requests.append(self.path)
                body = json.dumps({"method": "REAL"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer  # noqa: N815 - stdlib naming

            def log_message(self, format, *args):  # noqa: A002 - stdlib signature
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> CountingHttpServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture(scope="module")
def http_server():
    with CountingHttpServer() as server:
        yield server


@pytest.fixture(scope="module")
def llm_server():
    with FakeLlmServer() as server:
        yield server


@pytest.fixture(scope="module")
def dry_settings(database_url, broker, llm_server):
    # Every node a real run starts pays a 1-credit surcharge, and the HTTP block has a price, so a
    # charge of any kind would show in the balance.
    s = isolated_settings(database_url, broker.bootstrap, openai_api_key=SecretStr("sk-system-dry-run"),
                          llm_base_urls={"openai": llm_server.openai_base_url,
                                         "anthropic": llm_server.anthropic_base_url},
                          llm_timeout_s=2.0, llm_max_retries=1, http_allow_hosts=["127.0.0.1"], signup_credits=0,
                          block_costs={WEB: [{"cost_amount": WEB_COST, "cost_filter": {}}]},
                          execution_cost_count_threshold=1, execution_cost_per_threshold=1)
    yield s
    drop_schema(database_url, s.db_schema)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(dry_settings):
    async with running_stack(dry_settings, executors=1) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_servers(http_server, llm_server):
    http_server.requests.clear()
    llm_server.reset()


def link(src, sink, source_name, sink_name):
    return {"source_id": src, "sink_id": sink, "source_name": source_name, "sink_name": sink_name}


def outside_graph(url: str) -> dict:
    """web -> find(method) -> template <- llm; template -> output."""
    return {"name": "reaches out", "nodes": [
        {"id": "web", "block_id": WEB, "input_default": {"url": f"{url}/items", "body": {"n": 1}}},
        {"id": "find", "block_id": FIND, "input_default": {"key": "method"}},
        {"id": "llm", "block_id": TEXT_GENERATOR, "input_default": {"model": "gpt-4o", "prompt": "hello"}},
        {"id": "tpl", "block_id": TEMPLATE, "input_default": {"format": "{{answer}} via {{method}}"}},
        {"id": "out", "block_id": OUTPUT, "input_default": {"name": "result"}},
    ], "links": [link("web", "find", "response", "input"), link("find", "tpl", "output", "values_#_method"),
                 link("llm", "tpl", "response", "values_#_answer"), link("tpl", "out", "output", "value")]}


async def grant(stack, user: str, amount: int) -> None:
    async with stack.client("root", admin=True) as admin:
        r = await admin.post("/api/credits/admin/add_credits", json={
            "user_id": user, "amount": amount, "comments": "test", "idempotency_key": f"grant-{user}"})
        assert r.status_code == 200, r.text


async def create(client, graph: dict) -> dict:
    r = await client.post("/api/graphs", json={"graph": graph})
    assert r.status_code == 200, r.text
    return r.json()


async def execute(client, graph: dict, *, dry_run: bool, credentials: bool = True):
    names = list(graph["credentials_input_schema"].get("properties", {})) if credentials else []
    return await client.post(f"/api/graphs/{graph['id']}/execute/{graph['version']}", json={
        "inputs": {}, "credentials_inputs": {name: SYSTEM_OPENAI for name in names}, "dry_run": dry_run})


async def balance(client) -> int:
    return (await client.get("/api/credits")).json()["credits"]


def spends(stack, user: str) -> list:
    store = EventStore(stack.datastore, "credits")
    return [e for e in store.read_stream(ledger_stream_id(user)) if e.type == "CreditsSpent"]


def by_node(graph: dict, done: dict) -> dict[str, dict]:
    """Node executions of a finished run by the node's id in ``outside_graph`` (web, llm, …)."""
    names = {n["id"]: n["block_id"] for n in graph["nodes"]}
    short = {WEB: "web", FIND: "find", TEXT_GENERATOR: "llm", TEMPLATE: "tpl", OUTPUT: "out"}
    return {short[names[ne["node_id"]]]: ne for ne in done["node_executions"]}


async def test_a_dry_run_reaches_nothing_charges_nothing_and_feeds_the_test_outputs_downstream(
        stack, user_ids, http_server, llm_server):
    alice = user_ids["alice"]
    await grant(stack, alice, 100)
    async with stack.client(alice) as client:
        graph = await create(client, outside_graph(http_server.url))
        r = await execute(client, graph, dry_run=True)
        assert r.status_code == 200, r.text
        assert r.json()["is_dry_run"] is True
        done = await stack.wait_terminal(client, graph["id"], r.json()["id"])
        assert done["status"] == "COMPLETED", done
        assert done["is_dry_run"] is True
        assert done["outputs"] == {"result": [DRY_ANSWER]}
        nodes = by_node(graph, done)
        assert nodes["web"]["output_data"] == {"response": [{"method": "POST", "body": {"name": "widget"}}]}
        assert nodes["llm"]["output_data"] == {"response": ["Bonjour tout le monde !"], "prompt": [[]]}
        assert {name for name, ne in nodes.items() if (ne["stats"] or {}).get("dry_run")} == {"web", "llm"}
        assert done["stats"]["cost"] == 0
        # nothing reached the network, nothing was charged
        assert http_server.requests == [] and llm_server.requests == []
        assert await balance(client) == 100
        assert await asyncio.to_thread(spends, stack, alice) == []
        listed = (await client.get("/api/executions")).json()
        assert [e["is_dry_run"] for e in listed if e["id"] == done["id"]] == [True]

        # The control: the same graph run for real reaches both servers and pays for it.
        r = await execute(client, graph, dry_run=False)
        assert r.status_code == 200 and r.json()["is_dry_run"] is False
        real = await stack.wait_terminal(client, graph["id"], r.json()["id"])
        assert real["status"] == "COMPLETED" and real["is_dry_run"] is False
        assert real["outputs"] == {"result": ["echo: hello via REAL"]}
        assert http_server.requests == ["/items"] and len(llm_server.requests) == 1
        assert not any((ne["stats"] or {}).get("dry_run") for ne in real["node_executions"])
        assert await balance(client) == 100 - WEB_COST - LLM_COST - len(real["node_executions"])
        assert await asyncio.to_thread(spends, stack, alice)


async def test_a_dry_run_is_accepted_at_a_zero_balance_where_a_real_run_gets_402(stack, user_ids, http_server):
    bob = user_ids["bob"]
    async with stack.client(bob) as client:
        graph = await create(client, outside_graph(http_server.url))
        assert await balance(client) == 0
        real = await execute(client, graph, dry_run=False)
        assert real.status_code == 402 and "Insufficient balance" in real.json()["detail"]
        r = await execute(client, graph, dry_run=True)
        assert r.status_code == 200, r.text
        done = await stack.wait_terminal(client, graph["id"], r.json()["id"])
        assert done["status"] == "COMPLETED" and done["is_dry_run"] is True
        assert done["outputs"] == {"result": [DRY_ANSWER]}
        assert await balance(client) == 0 and http_server.requests == []
        assert await asyncio.to_thread(spends, stack, bob) == []


async def test_a_child_of_a_dry_run_is_a_dry_run(stack, user_ids, http_server):
    carol = user_ids["carol"]
    async with stack.client(carol) as client:
        child = await create(client, {"name": "child", "nodes": [
            {"id": "i", "block_id": INPUT, "input_default": {"name": "x"}},
            {"id": "web", "block_id": WEB, "input_default": {"url": f"{http_server.url}/child"}},
            {"id": "find", "block_id": FIND, "input_default": {"key": "method"}},
            {"id": "o", "block_id": OUTPUT, "input_default": {"name": "method"}},
            {"id": "echo", "block_id": OUTPUT, "input_default": {"name": "echo"}},
        ], "links": [link("web", "find", "response", "input"), link("find", "o", "output", "value"),
                     link("i", "echo", "result", "value")]})
        parent = await create(client, {"name": "parent", "nodes": [
            {"id": "i", "block_id": INPUT, "input_default": {"name": "x"}},
            {"id": "a", "block_id": AGENT_EXECUTOR, "input_default": {
                "graph_id": child["id"], "graph_version": 1, "inputs": {},
                "input_schema": child["input_schema"], "output_schema": child["output_schema"]}},
            {"id": "o", "block_id": OUTPUT, "input_default": {"name": "result"}},
        ], "links": [link("i", "a", "result", "x"), link("a", "o", "method", "value")]})
        r = await client.post(f"/api/graphs/{parent['id']}/execute/1", json={"inputs": {"x": 1}, "dry_run": True})
        assert r.status_code == 200, r.text  # carol has no credits: only a dry run is accepted
        done = await stack.wait_terminal(client, parent["id"], r.json()["id"])
        assert done["status"] == "COMPLETED" and done["is_dry_run"] is True
        assert done["outputs"] == {"result": ["POST"]}
        children = (await client.get(f"/api/graphs/{child['id']}/executions")).json()["executions"]
        assert len(children) == 1 and children[0]["parent_graph_exec_id"] == done["id"]
        assert children[0]["is_dry_run"] is True and children[0]["status"] == "COMPLETED"
        run = (await client.get(f"/api/graphs/{child['id']}/executions/{children[0]['id']}")).json()
        web = next(ne for ne in run["node_executions"] if ne["block_id"] == WEB)
        assert web["stats"]["dry_run"] is True
        assert http_server.requests == [] and await balance(client) == 0
