"""Dry runs (``dry_run: true`` on execute): blocks with external effects are simulated with their
declared dry-run output, pure blocks run, nothing is charged, and ``is_dry_run`` is recorded,
folded, shown and handed down to child runs. Real runner and planner, in memory."""

from __future__ import annotations

import uuid

import pytest
from pydantic import SecretStr

from schemas.events.executions import ExecutionQueued
from schemas.events.graphs import GraphCreated
from services.blocks.http import SendWebRequestBlock
from services.blocks.http_fetch import FetchResult
from services.blocks.llm_support import TEST_CREDENTIALS_INPUT
from services.command_api.application.executions import NoCredits
from services.domain.blocks.base import RunContext
from services.domain.executions.state import ExecutionState
from services.domain.executions.views import execution_meta, execution_with_nodes
from services.domain.integrations.credentials import APIKeyCredentials
from services.domain.llm.types import LlmResponse
from services.executor.ports import StoreChildRunner
from services.executor.runner import ExecutionRunner
from services.infra.memory_eventstore import MemoryEventStore
from services.infra.store_contract import NewEvent
from services.query_api.read_models.executions import meta_from_row
from tests.stories.builders import graph_body
from tests.stories.executions import _commands, _graph
from tests.stories.world import World, expect
from tests.unit.executor_harness import MemoryWriter, build_graph, nodes_of
from tests.unit.fakes import MemoryKeyValueStore

INPUT = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
OUTPUT = "363ae599-353e-4804-937e-b2ee3cef3da4"
TEMPLATE = "db7d8f02-2f44-4c55-ab7a-eae0941f0c30"
FIND = "0e50422c-6dee-4145-83d6-3a5a392f65de"
WEB = SendWebRequestBlock.id
TEXT_GENERATOR = "1f292d4a-41a4-4977-9684-7c8d560b9f91"
PERSIST = "1d055e55-a2b9-4547-8311-907d05b0304d"
CREDS = APIKeyCredentials(id=TEST_CREDENTIALS_INPUT["id"], provider="openai", api_key=SecretStr("sk-test"))


def link(src, sink, source_name, sink_name):
    return {"source_id": src, "sink_id": sink, "source_name": source_name, "sink_name": sink_name}


def outside_graph():
    """web -> find(method) -> template <- llm; template -> output; persist on its own."""
    return build_graph([
        {"id": "web", "block_id": WEB, "input_default": {"url": "https://api.example.com/items", "body": {"n": 1}}},
        {"id": "find", "block_id": FIND, "input_default": {"key": "method"}},
        {"id": "llm", "block_id": TEXT_GENERATOR,
         "input_default": {"model": "gpt-4o", "prompt": "hello", "credentials": TEST_CREDENTIALS_INPUT}},
        {"id": "tpl", "block_id": TEMPLATE, "input_default": {"format": "{{answer}} via {{method}}"}},
        {"id": "out", "block_id": OUTPUT, "input_default": {"name": "result"}},
        {"id": "keep", "block_id": PERSIST, "input_default": {"key": "k", "value": "v"}},
    ], [link("web", "find", "response", "input"), link("find", "tpl", "output", "values_#_method"),
        link("llm", "tpl", "response", "values_#_answer"), link("tpl", "out", "output", "value")])


class Outside:
    """Everything a run could reach outside the process, counting what it is asked: the network
    (SendWebRequest's ``_send``), the model provider, the key/value store and the charge."""

    def __init__(self, monkeypatch) -> None:
        self.sent: list[str] = []
        self.llm_calls = 0
        self.charged: list[str] = []
        self.prepared: list[str] = []
        self.kv = MemoryKeyValueStore()
        outside = self

        async def send(block, method, url, headers, content, allow_hosts):
            outside.sent.append(url)
            return FetchResult(200, {"content-type": "application/json"}, b'{"method": "REAL"}', url)

        monkeypatch.setattr(SendWebRequestBlock, "_send", send)

        class Llm:
            async def complete(self, credentials, request):
                outside.llm_calls += 1
                return LlmResponse(text="real answer", prompt_tokens=3, completion_tokens=2, model=request.model)

        self.llm = Llm()

        class Charge:
            async def __call__(self, state, ne, input_data, before_spend=None):
                await before_spend()  # a price: the runner's start is durable first
                outside.charged.append(ne.block_id)
                return 5

            def prepare(self, state, ne):
                outside.prepared.append(ne.block_id)

        self.charge = Charge()

    async def credentials(self, user_id, block_cls, input_data):
        return {"credentials": CREDS} if "credentials" in block_cls.input_fields() else {}


async def run(body, outside: Outside, *, dry_run: bool) -> tuple[ExecutionState, dict]:
    state = ExecutionState(str(uuid.uuid4()))
    state.apply(ExecutionQueued(user_id="u", graph_id=body.id, graph_version=1, graph=body, is_dry_run=dry_run))
    runner = ExecutionRunner(state, MemoryWriter(), context_factory=lambda s, ne: RunContext(
        user_id=s.user_id, graph_id=s.graph_id, graph_exec_id=s.id, node_id=ne.node_id, node_exec_id=ne.id,
        kv_store=outside.kv, llm=outside.llm), node_timeout_s=30, max_node_executions=100,
        charge=outside.charge, credentials=outside.credentials)
    await runner.run()
    return state, execution_with_nodes(state)


async def test_a_dry_run_simulates_outside_blocks_runs_pure_ones_and_charges_nothing(monkeypatch):
    body, ids = outside_graph()
    outside = Outside(monkeypatch)
    state, result = await run(body, outside, dry_run=True)

    assert result["status"] == "COMPLETED" and result["is_dry_run"] is True
    assert (outside.sent, outside.llm_calls, outside.kv.data) == ([], 0, {})
    assert (outside.charged, outside.prepared) == ([], [])
    assert result["stats"]["cost"] == 0
    # the simulated nodes yield their dry-run outputs, and the pure blocks downstream run on them
    web, = nodes_of(result, ids["web"])
    assert web["output_data"] == {"response": [{"method": "POST", "body": {"name": "widget"}}]}
    llm, = nodes_of(result, ids["llm"])
    assert llm["output_data"] == {"response": ["Bonjour tout le monde !"], "prompt": [[]]}
    keep, = nodes_of(result, ids["keep"])
    assert keep["status"] == "COMPLETED" and keep["output_data"] == {"value": ["persistent_value"]}
    find, = nodes_of(result, ids["find"])
    assert find["output_data"] == {"output": ["POST"]}
    assert result["outputs"] == {"result": ["Bonjour tout le monde ! via POST"]}
    # the history says which outputs are simulated: the outside nodes' stats, and only theirs
    simulated = {ne["node_id"] for ne in result["node_executions"] if (ne["stats"] or {}).get("dry_run")}
    assert simulated == {ids["web"], ids["llm"], ids["keep"]}
    assert all("cost" not in (ne["stats"] or {}) for ne in result["node_executions"])


async def test_the_same_graph_run_for_real_reaches_out_and_is_charged(monkeypatch):
    """The control: the fakes above are wired, so the zeros of the dry run mean something."""
    body, ids = outside_graph()
    outside = Outside(monkeypatch)
    state, result = await run(body, outside, dry_run=False)
    assert result["status"] == "COMPLETED" and result["is_dry_run"] is False
    assert (len(outside.sent), outside.llm_calls, len(outside.kv.data)) == (1, 1, 1)
    assert len(outside.charged) == len(outside.prepared) == 6
    assert result["outputs"] == {"result": ["real answer via REAL"]}
    assert not any((ne["stats"] or {}).get("dry_run") for ne in result["node_executions"])


async def test_a_dry_run_still_refuses_a_simulated_nodes_bad_input(monkeypatch):
    body, ids = build_graph([
        {"id": "llm", "block_id": TEXT_GENERATOR, "input_default": {
            "model": "gpt-4o", "prompt": "hi", "max_tokens": "many", "credentials": TEST_CREDENTIALS_INPUT}},
    ], [])
    outside = Outside(monkeypatch)
    state, result = await run(body, outside, dry_run=True)
    llm, = nodes_of(result, ids["llm"])
    assert llm["status"] == "FAILED" and "max_tokens" in llm["output_data"]["error"][0]
    assert llm["stats"]["dry_run"] is True and outside.llm_calls == 0


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_child_of_a_dry_run_is_a_dry_run(dry_run):
    graphs, executions = MemoryEventStore("graphs"), MemoryEventStore("executions")
    gid = uuid.uuid4()
    graphs.append([NewEvent(gid, 1, GraphCreated(user_id="u", graph=graph_body(gid)), user_id="u")])
    parent = ExecutionState(str(uuid.uuid4()))
    parent.apply(ExecutionQueued(user_id="u", graph_id=str(gid), graph_version=1, graph=graph_body(gid),
                                 is_dry_run=dry_run))
    child_id = uuid.uuid4()
    StoreChildRunner(executions, graphs, parent, "parent-node-exec", {})._queue_child(child_id, str(gid), 1, {"x": 1})
    [queued] = [recorded.decode() for recorded in executions.read_stream(child_id)]
    assert isinstance(queued, ExecutionQueued) and queued.is_dry_run is dry_run
    assert queued.parent_execution_id == parent.id


def test_is_dry_run_is_folded_and_shown_by_both_builders():
    body = graph_body(uuid.uuid4())
    state = ExecutionState(str(uuid.uuid4()))
    state.apply(ExecutionQueued(user_id="u", graph_id=body.id, graph_version=1, graph=body, is_dry_run=True))
    assert state.is_dry_run is True and execution_meta(state)["is_dry_run"] is True
    assert execution_with_nodes(state)["is_dry_run"] is True
    real = ExecutionState(str(uuid.uuid4()))
    real.apply(ExecutionQueued(user_id="u", graph_id=body.id, graph_version=1, graph=body))
    assert execution_meta(real)["is_dry_run"] is False
    row = {"execution_id": uuid.uuid4(), "user_id": "u", "graph_id": uuid.uuid4(), "graph_version": 1,
           "inputs": {}, "credential_inputs": None, "nodes_input_masks": None, "preset_id": None,
           "status": "QUEUED", "started_at": None, "ended_at": None, "stats": None, "parent_execution_id": None}
    assert meta_from_row({**row, "is_dry_run": True})["is_dry_run"] is True
    assert meta_from_row({**row, "is_dry_run": False})["is_dry_run"] is False


# -- the command: a dry run is accepted at a zero balance --------------------------------------------


@pytest.fixture
def world() -> World:
    return World(MemoryEventStore)


def test_a_dry_run_without_credits_is_queued_as_a_dry_run(world):
    alice, executions = world.user("alice"), _commands(world)
    gid = _graph(world, alice)
    world.refused(NoCredits, lambda: executions.execute(alice, str(gid), 1, {"x": 5}, {}))
    meta = world.when(lambda: executions.execute(alice, str(gid), 1, {"x": 5}, {}, dry_run=True))
    world.then(expect("ExecutionQueued", meta["id"], user_id=alice.id, graph_id=str(gid), is_dry_run=True))
    assert meta["is_dry_run"] is True and meta["status"] == "QUEUED"
