"""The credentials store and the LLM blocks end to end: real gateway, store, relay, broker,
projector and executor, with a real local HTTP server speaking the OpenAI and Anthropic wire
formats in place of the providers."""

from __future__ import annotations

import json
import logging
import uuid

import psycopg
import pytest
import pytest_asyncio
from pydantic import SecretStr

from schemas.topics import CONTEXTS
from services.domain.integrations.system import SYSTEM_CREDENTIALS
from tests.conftest import drop_schema, isolated_settings
from tests.corpus import fixture, sample
from tests.fake_llm import FakeLlmServer
from tests.integration.helpers import read_topic
from tests.integration.stack import running_stack

TEXT_GENERATOR = "1f292d4a-41a4-4977-9684-7c8d560b9f91"
STRUCTURED = "ed55ac19-356e-4243-a6cb-bc599e9b716f"
OUTPUT = "363ae599-353e-4804-937e-b2ee3cef3da4"
INPUT = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
AGENT_EXECUTOR = "e189baac-8c20-45a1-94a7-55177ea42565"
SYSTEM_OPENAI_ID = SYSTEM_CREDENTIALS["openai"][0]
SYSTEM_KEY = f"sk-system-{uuid.uuid4().hex}"
FAKE_PEOPLE = '[{"name": "Ada", "age": 36}]'


@pytest.fixture(scope="module")
def llm_server():
    with FakeLlmServer() as server:
        yield server


@pytest.fixture(scope="module")
def llm_settings(database_url, broker, llm_server):
    s = isolated_settings(database_url, broker.bootstrap, openai_api_key=SecretStr(SYSTEM_KEY),
                          llm_base_urls={"openai": llm_server.openai_base_url,
                                         "anthropic": llm_server.anthropic_base_url},
                          llm_timeout_s=1.0, llm_max_retries=1)
    yield s
    drop_schema(database_url, s.db_schema)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(llm_settings):
    async with running_stack(llm_settings, executors=1) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_server(llm_server):
    llm_server.reset()
    yield llm_server


def ai_function_graph() -> dict:
    """The team's AutoGPT-format LLM agent (an AI Text Generator playing a Python function)."""
    return fixture("python_function_agent.json")


AI_FUNCTION_AGENTS = [pytest.param(ai_function_graph, id="fixture"),
                      pytest.param(lambda: sample("agent_516d813b-d1bc-470f-add7-c63a4b2c2bad.json"),
                                   id="autogpt-sample")]


def one_llm_node_graph(model: str, block_id: str = TEXT_GENERATOR, **inputs) -> dict:
    return {"name": f"llm {model}", "nodes": [
        {"id": "llm", "block_id": block_id, "input_default": {"model": model, "prompt": "hello there", **inputs}},
        {"id": "out", "block_id": OUTPUT, "input_default": {"name": "answer"}},
    ], "links": [{"source_id": "llm", "sink_id": "out", "source_name": "response", "sink_name": "value"}]}


async def store_key(client, provider: str, key: str, title: str = "mine") -> dict:
    r = await client.post(f"/api/integrations/{provider}/credentials",
                          json={"type": "api_key", "api_key": key, "title": title, "provider": provider})
    assert r.status_code == 201, r.text
    return r.json()


def ref(meta: dict) -> dict:
    return {k: meta[k] for k in ("id", "provider", "type", "title")}


async def create_graph(client, graph: dict) -> dict:
    r = await client.post("/api/graphs", json={"graph": graph})
    assert r.status_code == 200, r.text
    return r.json()


async def run(stack, client, graph: dict, credentials_inputs: dict | None = None, inputs: dict | None = None):
    r = await client.post(f"/api/graphs/{graph['id']}/execute/{graph['version']}",
                          json={"inputs": inputs or {}, "credentials_inputs": credentials_inputs or {}})
    assert r.status_code == 200, r.text
    return await stack.wait_terminal(client, graph["id"], r.json()["id"])


async def balance(client) -> int:
    return (await client.get("/api/credits")).json()["credits"]


# -- the store ------------------------------------------------------------------------------------


async def test_store_list_get_delete_and_isolation(stack, user_ids):
    secret = f"sk-alice-{uuid.uuid4().hex}"
    async with stack.client(user_ids["alice"]) as alice, stack.client(user_ids["bob"]) as bob:
        meta = await store_key(alice, "openai", secret, "Alice's OpenAI")
        assert meta == {"id": meta["id"], "provider": "openai", "type": "api_key", "title": "Alice's OpenAI",
                        "scopes": None, "username": None, "host": None}
        listed = (await alice.get("/api/integrations/credentials")).json()
        assert meta in listed
        system = [c for c in listed if c["id"] == SYSTEM_OPENAI_ID]
        assert system and system[0]["title"] == "Use Credits for OpenAI"
        assert [c["id"] for c in (await alice.get("/api/integrations/openai/credentials")).json()] == [
            meta["id"], SYSTEM_OPENAI_ID]
        assert (await alice.get(f"/api/integrations/openai/credentials/{meta['id']}")).json() == meta
        assert (await alice.get(f"/api/integrations/anthropic/credentials/{meta['id']}")).status_code == 404
        assert (await alice.get("/api/integrations/nosuch/credentials")).status_code == 404
        assert (await alice.get("/api/integrations/providers/system")).json() == ["ollama", "openai"]
        assert "anthropic" in (await alice.get("/api/integrations/providers")).json()

        # Bob can neither see nor delete it.
        assert meta["id"] not in [c["id"] for c in (await bob.get("/api/integrations/credentials")).json()]
        assert (await bob.get(f"/api/integrations/openai/credentials/{meta['id']}")).status_code == 404
        assert (await bob.delete(f"/api/integrations/openai/credentials/{meta['id']}")).status_code == 404

        # Refusals with messages, never a 500.
        oauth = await alice.post("/api/integrations/openai/credentials", json={"type": "oauth2", "api_key": "x"})
        assert oauth.status_code == 400 and "api_key" in oauth.json()["detail"]
        empty = await alice.post("/api/integrations/openai/credentials", json={"type": "api_key", "api_key": ""})
        assert empty.status_code == 422 and secret not in empty.text
        reserved = await alice.post("/api/integrations/openai/credentials",
                                    json={"api_key": "x", "id": SYSTEM_OPENAI_ID})
        assert reserved.status_code == 403
        # a client-chosen id is the caller's own (namespaced by user): a second create with it is a 409
        chosen = str(uuid.uuid4())
        first = await alice.post("/api/integrations/openai/credentials", json={"api_key": "x", "id": chosen})
        assert first.status_code == 201
        again = await alice.post("/api/integrations/openai/credentials", json={"api_key": "x", "id": chosen})
        assert again.status_code == 409
        assert (await alice.delete(f"/api/integrations/openai/credentials/{SYSTEM_OPENAI_ID}")).status_code == 403

        # Keys go into HTTP headers: a pasted trailing newline is dropped, anything else refused.
        trimmed = await alice.post("/api/integrations/groq/credentials", json={"api_key": "gsk-abc\n"})
        assert trimmed.status_code == 201
        for bad in ("sk a", "sk-\u00e9", "sk-\r\nX-Evil: 1"):
            r = await alice.post("/api/integrations/groq/credentials", json={"api_key": bad})
            assert r.status_code == 400 and "visible ASCII" in r.json()["detail"] and bad not in r.text
        assert (await alice.post("/api/integrations/groq/credentials",
                                 json={"api_key": "k", "expires_at": 2 ** 60})).status_code == 422
        assert (await alice.post("/api/integrations/groq/credentials",
                                 json={"api_key": "k", "title": "a\u0000b"})).status_code == 400
        upper = await alice.post("/api/integrations/openai/credentials",
                                 json={"api_key": "x", "id": SYSTEM_OPENAI_ID.upper()})
        assert upper.status_code == 403
        assert (await alice.get(f"/api/integrations/openai/credentials/urn:uuid:{meta['id']}")).json() == meta

        deleted = await alice.delete(f"/api/integrations/openai/credentials/{meta['id']}")
        assert deleted.json() == {"deleted": True, "revoked": None}
        assert (await alice.get(f"/api/integrations/openai/credentials/{meta['id']}")).status_code == 404
        assert (await alice.delete(f"/api/integrations/openai/credentials/{meta['id']}")).status_code == 404


# -- running LLM graphs ---------------------------------------------------------------------------


@pytest.mark.parametrize("agent", AI_FUNCTION_AGENTS)
async def test_ai_function_sample_graph_runs_with_the_users_own_key(stack, user_ids, fresh_server, agent):
    secret = f"sk-alice-{uuid.uuid4().hex}"
    fresh_server.responder = lambda body, wire: FAKE_PEOPLE
    async with stack.client(user_ids["alice"]) as alice:
        graph = await create_graph(alice, agent())
        assert list(graph["credentials_input_schema"]["properties"]) == ["openai_api_key_credentials"]
        meta = await store_key(alice, "openai", secret)
        before = await balance(alice)
        result = await run(stack, alice, graph, {"openai_api_key_credentials": ref(meta)})
        assert result["status"] == "COMPLETED", result
        assert result["outputs"] == {"return": [FAKE_PEOPLE]}
        assert result["credential_inputs"] == {"openai_api_key_credentials": ref(meta)}
        assert await balance(alice) == before  # the user's own key: free

    sent = fresh_server.requests[-1]
    assert sent["headers"]["authorization"] == f"Bearer {secret}"
    messages = sent["json"]["messages"]
    assert sent["json"]["model"] == "o3-mini"
    system = next(m["content"] for m in messages if m["role"] == "system")
    assert "def fake_people(n: int) -> list[dict]:" in system
    assert "# Generates n examples of fake data representing people" in system
    assert messages[-1] == {"role": "user", "content": "20"}
    llm = next(n for n in result["node_executions"] if n["block_id"] == TEXT_GENERATOR)
    assert llm["stats"]["llm_call_count"] == 1
    assert llm["stats"]["input_token_count"] > 0 and llm["stats"]["output_token_count"] == len(FAKE_PEOPLE.split())


async def test_missing_foreign_and_mismatched_credentials_fail_validation(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice, stack.client(user_ids["bob"]) as bob:
        graph = await create_graph(alice, ai_function_graph())
        llm_node_id = next(n["id"] for n in graph["nodes"] if n["block_id"] == TEXT_GENERATOR)
        bobs = await store_key(bob, "openai", f"sk-bob-{uuid.uuid4().hex}")
        alices_anthropic = await store_key(alice, "anthropic", f"sk-ant-{uuid.uuid4().hex}")
        url = f"/api/graphs/{graph['id']}/execute/{graph['version']}"

        async def errors(credentials_inputs):
            r = await alice.post(url, json={"inputs": {}, "credentials_inputs": credentials_inputs})
            assert r.status_code == 400, r.text
            detail = r.json()["detail"]
            assert detail["type"] == "validation_error"
            return detail["node_errors"][llm_node_id]["credentials"]

        assert await errors({}) == "These credentials are required"
        assert await errors({"openai_api_key_credentials": ref(bobs)}) == f"Unknown credentials #{bobs['id']}"
        mismatched = {**ref(alices_anthropic), "provider": "openai"}
        assert await errors({"openai_api_key_credentials": mismatched}) == "Invalid credentials: type/provider mismatch"
        assert (await errors({"openai_api_key_credentials": {"provider": "openai"}})).startswith("Invalid credentials:")
        # The node's own input naming Bob's credential is refused the same way.
        own = ai_function_graph()
        for node in own["nodes"]:
            if node["block_id"] == TEXT_GENERATOR:
                node["input_default"]["credentials"] = ref(bobs)
        graph2 = await create_graph(alice, own)
        r = await alice.post(f"/api/graphs/{graph2['id']}/execute/{graph2['version']}", json={"inputs": {}})
        assert r.status_code == 400 and "Unknown credentials" in r.text
        exported = (await alice.get(f"/api/graphs/{graph2['id']}?for_export=true")).json()
        llm = next(n for n in exported["nodes"] if n["block_id"] == TEXT_GENERATOR)
        assert "credentials" not in llm["input_default"] and llm["input_default"]["model"] == "o3-mini"


async def test_system_credentials_are_charged_per_model(stack, user_ids, fresh_server):
    async with stack.client(user_ids["carol"]) as carol:
        graph = await create_graph(carol, ai_function_graph())
        before = await balance(carol)
        system = {"id": SYSTEM_OPENAI_ID, "provider": "openai", "type": "api_key", "title": "Use Credits for OpenAI"}
        result = await run(stack, carol, graph, {"openai_api_key_credentials": system})
        assert result["status"] == "COMPLETED", result
        assert await balance(carol) == before - 2  # o3-mini with the platform's key
        history = (await carol.get("/api/credits/transactions")).json()["transactions"]
        usage = [t for t in history if t["transaction_type"] == "USAGE"]
        assert len(usage) == 1 and usage[0]["amount"] == -2
    assert fresh_server.requests[-1]["headers"]["authorization"] == f"Bearer {SYSTEM_KEY}"


async def test_anthropic_model_runs_through_the_messages_api(stack, user_ids, fresh_server):
    secret = f"sk-ant-{uuid.uuid4().hex}"
    async with stack.client(user_ids["alice"]) as alice:
        graph = await create_graph(alice, one_llm_node_graph("claude-3-haiku-20240307", sys_prompt="Be brief."))
        assert list(graph["credentials_input_schema"]["properties"]) == ["anthropic_api_key_credentials"]
        meta = await store_key(alice, "anthropic", secret)
        result = await run(stack, alice, graph, {"anthropic_api_key_credentials": ref(meta)})
        assert result["status"] == "COMPLETED", result
        assert result["outputs"] == {"answer": ["echo: hello there"]}
    sent = fresh_server.requests[-1]
    assert sent["path"] == "/v1/messages" and sent["headers"]["x-api-key"] == secret
    assert sent["json"]["system"] == "Be brief."


async def test_provider_retries_then_clear_failure(stack, user_ids, fresh_server):
    async with stack.client(user_ids["alice"]) as alice:
        meta = await store_key(alice, "openai", f"sk-{uuid.uuid4().hex}")
        creds = {"openai_api_key_credentials": ref(meta)}
        graph = await create_graph(alice, one_llm_node_graph("gpt-4o-mini"))

        fresh_server.enqueue(status=429, headers={"Retry-After": "0"})
        ok = await run(stack, alice, graph, creds)
        assert ok["status"] == "COMPLETED" and ok["outputs"] == {"answer": ["echo: hello there"]}

        for _ in range(2):  # one try + one retry (llm_max_retries=1), both refused
            fresh_server.enqueue(status=500, body={"error": {"message": "upstream exploded"}})
        failed = await run(stack, alice, graph, creds)
        assert failed["status"] == "COMPLETED" and failed["stats"]["node_error_count"] == 1  # AutoGPT: the run goes on
        node = next(n for n in failed["node_executions"] if n["block_id"] == TEXT_GENERATOR)
        assert node["status"] == "FAILED"
        assert "openai API error 500" in node["output_data"]["error"][0]

        for _ in range(2):
            fresh_server.enqueue(delay=2.5)  # past llm_timeout_s=1.0, twice
        slow = await run(stack, alice, graph, creds)
        node = next(n for n in slow["node_executions"] if n["block_id"] == TEXT_GENERATOR)
        assert node["status"] == "FAILED" and "timed out" in node["output_data"]["error"][0]


async def test_direct_block_run_resolves_credentials_and_charges_platform_keys(stack, user_ids, fresh_server):
    async with stack.client(user_ids["carol"]) as carol, stack.client(user_ids["bob"]) as bob:
        own = await store_key(carol, "openai", f"sk-{uuid.uuid4().hex}")
        body = {"prompt": "hi {{who}}", "prompt_values": {"who": "you"}, "model": "gpt-4o"}
        before = await balance(carol)
        r = await carol.post(f"/api/blocks/{TEXT_GENERATOR}/execute", json={**body, "credentials": ref(own)})
        assert r.status_code == 200 and r.json()["response"] == ["echo: hi you"], r.text
        assert await balance(carol) == before
        system = {"id": SYSTEM_OPENAI_ID, "provider": "openai", "type": "api_key"}
        r = await carol.post(f"/api/blocks/{TEXT_GENERATOR}/execute", json={**body, "credentials": system})
        assert r.status_code == 200 and await balance(carol) == before - 3  # gpt-4o on the platform's key
        r = await bob.post(f"/api/blocks/{TEXT_GENERATOR}/execute", json={**body, "credentials": ref(own)})
        assert r.status_code == 400 and "Credentials not available" in r.json()["detail"]


async def test_sub_graph_llm_nodes_get_the_runs_credentials(stack, user_ids, fresh_server):
    secret = f"sk-{uuid.uuid4().hex}"
    async with stack.client(user_ids["bob"]) as bob:
        child = await create_graph(bob, {"name": "ask", "nodes": [
            {"id": "i", "block_id": INPUT, "input_default": {"name": "question"}},
            {"id": "llm", "block_id": TEXT_GENERATOR, "input_default": {"model": "gpt-4o-mini"}},
            {"id": "o", "block_id": OUTPUT, "input_default": {"name": "answer"}},
        ], "links": [{"source_id": "i", "sink_id": "llm", "source_name": "result", "sink_name": "prompt"},
                     {"source_id": "llm", "sink_id": "o", "source_name": "response", "sink_name": "value"}]})
        parent = await create_graph(bob, {"name": "parent", "nodes": [
            {"id": "i", "block_id": INPUT, "input_default": {"name": "q"}},
            {"id": "a", "block_id": AGENT_EXECUTOR, "input_default": {
                "graph_id": child["id"], "graph_version": child["version"], "inputs": {},
                "input_schema": child["input_schema"], "output_schema": child["output_schema"]}},
            {"id": "o", "block_id": OUTPUT, "input_default": {"name": "result"}},
        ], "links": [{"source_id": "i", "sink_id": "a", "source_name": "result", "sink_name": "question"},
                     {"source_id": "a", "sink_id": "o", "source_name": "answer", "sink_name": "value"}]})
        child_llm = next(n["id"] for n in child["nodes"] if n["block_id"] == TEXT_GENERATOR)
        r = await bob.post(f"/api/graphs/{parent['id']}/execute/{parent['version']}", json={"inputs": {"q": "hi"}})
        assert r.status_code == 400, r.text  # checked up front, not when the child runs
        assert r.json()["detail"]["node_errors"] == {child_llm: {"credentials": "These credentials are required"}}

        meta = await store_key(bob, "openai", secret)
        result = await run(stack, bob, parent, {"openai_api_key_credentials": ref(meta)}, {"q": "hi"})
        assert result["status"] == "COMPLETED" and result["outputs"] == {"result": ["echo: hi"]}, result
    assert fresh_server.requests[-1]["headers"]["authorization"] == f"Bearer {secret}"


async def test_a_malformed_sub_graph_reference_is_not_a_server_error(stack, user_ids):
    async with stack.client(user_ids["carol"]) as carol:
        r = await carol.post("/api/graphs", json={"graph": {"name": "odd", "nodes": [
            {"id": "a", "block_id": AGENT_EXECUTOR, "input_default": {
                "graph_id": [], "graph_version": 1, "inputs": {}, "input_schema": {}, "output_schema": {}}}],
            "links": []}})
        if r.status_code == 200:  # saved: running it must answer, not crash
            graph = r.json()
            run = await carol.post(f"/api/graphs/{graph['id']}/execute/{graph['version']}", json={"inputs": {}})
            assert run.status_code < 500, run.text
        else:
            assert 400 <= r.status_code < 500, r.text


async def test_malformed_structured_output_is_retried_and_accounted(stack, user_ids, fresh_server):
    def answer(body, wire):  # pure: a late reply to an earlier test's request must not consume anything
        is_retry = any(m["role"] == "assistant" for m in body["messages"])
        return '{"city": "Paris", "country": "France"}' if is_retry else "this is not json"

    fresh_server.responder = answer
    async with stack.client(user_ids["bob"]) as bob:
        meta = await store_key(bob, "openai", f"sk-{uuid.uuid4().hex}")
        graph = await create_graph(bob, one_llm_node_graph(
            "gpt-4o", STRUCTURED, expected_format={"city": "the city", "country": "its country"}))
        result = await run(stack, bob, graph, {"openai_api_key_credentials": ref(meta)})
        assert result["status"] == "COMPLETED", result
        assert result["outputs"] == {"answer": [{"city": "Paris", "country": "France"}]}
        node = next(n for n in result["node_executions"] if n["block_id"] == STRUCTURED)
        assert node["stats"]["llm_call_count"] == 2 and node["stats"]["llm_retry_count"] == 1
        assert node["stats"]["output_token_count"] == 4 + 4  # both answers' words are counted


async def test_no_secret_in_any_response_event_read_model_topic_or_log(stack, user_ids, fresh_server, caplog):
    """Grep every place a key could leak to after storing, listing, running, failing and exporting."""
    caplog.set_level(logging.DEBUG)
    secret = f"sk-leakcheck-{uuid.uuid4().hex}"
    fresh_server.expected_key = None
    texts: list[str] = []
    async with stack.client(user_ids["alice"]) as alice:
        # A client pasting the key into the run request must not get it recorded either.
        meta = await store_key(alice, "openai", secret, "leak check")
        texts.append(json.dumps(meta))
        graph = await create_graph(alice, ai_function_graph())
        creds = {"openai_api_key_credentials": ref(meta)}
        ok = await run(stack, alice, graph, {"openai_api_key_credentials": {**ref(meta), "api_key": secret}})
        fresh_server.enqueue(status=401, body={"error": {"message": f"Incorrect API key provided: {secret}"}})
        failed = await run(stack, alice, graph, creds)
        assert ok["status"] == "COMPLETED" and failed["stats"]["node_error_count"] == 1
        assert fresh_server.requests[-1]["headers"]["authorization"] == f"Bearer {secret}"
        for path in ["/api/integrations/credentials", "/api/integrations/openai/credentials",
                     f"/api/integrations/openai/credentials/{meta['id']}", f"/api/graphs/{graph['id']}",
                     f"/api/graphs/{graph['id']}?for_export=true", f"/api/graphs/{graph['id']}/executions",
                     f"/api/graphs/{graph['id']}/executions/{ok['id']}",
                     f"/api/graphs/{graph['id']}/executions/{failed['id']}",
                     f"/api/executions/{ok['id']}/events", f"/api/executions/{failed['id']}/events"]:
            r = await alice.get(path)
            assert r.status_code == 200, (path, r.text)
            texts.append(r.text)
    texts.append(json.dumps(ok) + json.dumps(failed))
    texts.extend(_dump_schema(stack.settings))
    for context in ("integrations", "executions"):
        envelopes = await read_topic(stack.settings, stack.settings.topic(context), expect=1)
        texts.extend(env.model_dump_json() for env in envelopes)
    texts.extend(record.getMessage() for record in caplog.records)
    leaks = [t[:200] for t in texts if secret in t or secret[3:] in t]
    assert not leaks, leaks
    assert any("Incorrect API key provided" in t for t in texts), "the provider's error reached the node"


def _dump_schema(settings) -> list[str]:
    """Every row of every table in the test's schema (event tables and read models), as text."""
    out = []
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (settings.db_schema,))]
        assert any("integrations" in t for t in tables) and "rm_credentials" in tables
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{settings.db_schema}"."{table}"'):
                out.append(" ".join(_text(v) for v in row))
    assert len(CONTEXTS) >= 5
    return out


def _text(value) -> str:
    """Stored event state is bytes (orjson): decode it so a plain key inside would be found."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    return str(value)
