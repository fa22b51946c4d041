"""Read models rebuild identically from the store; sub-graphs run as child executions;
AutoGPT's testing_agent.json imports and runs."""

import asyncio

import pytest

from services.infra import db
from services.projector.rebuild import rebuild
from tests.corpus import fixture, sample
from tests.integration.test_executions_api import sample_graph
from tests.integration.test_graphs_api import INPUT, OUTPUT

AGENT_EXECUTOR = "e189baac-8c20-45a1-94a7-55177ea42565"
CALC = "b1ab9b19-67a6-406d-abf5-2dba76d00c79"

TABLES = {
    "rm_graphs": "graph_id", "rm_graph_versions": "graph_id, version", "rm_executions": "execution_id",
    "rm_node_executions": "node_exec_id", "projection_streams": "stream_id",
}


def snapshot(settings) -> dict[str, list]:
    out = {}
    with db.connect(settings) as conn:
        for table, order in TABLES.items():
            out[table] = conn.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
    return out


@pytest.mark.parametrize("load", [lambda: fixture("unfilled_calculator.json"), lambda: sample("testing_agent.json")],
                         ids=["fixture", "autogpt-sample"])
async def test_testing_agent_imports_and_runs(stack, user_ids, load):
    """The frontend's fixture: one Calculator with no operands. It imports unchanged; running it
    unchanged is refused as AutoGPT refuses it (required inputs); once the builder fills the
    operands in a new version, it runs to the right result."""
    data = load()
    async with stack.client(user_ids["alice"]) as alice:
        created = await alice.post("/api/graphs", json={"graph": data})
        assert created.status_code == 200, created.text
        graph = created.json()
        assert graph["nodes"][0]["input_default"] == {"round_result": False}
        run = await alice.post(f"/api/graphs/{graph['id']}/execute/{graph['version']}", json={"inputs": {}})
        assert run.status_code == 400
        errors = next(iter(run.json()["detail"]["node_errors"].values()))
        assert set(errors) == {"operation", "a", "b"}

        data["nodes"][0]["input_default"].update({"operation": "Multiply", "a": 6, "b": 7})
        updated = (await alice.put(f"/api/graphs/{graph['id']}", json=data)).json()
        run = await alice.post(f"/api/graphs/{graph['id']}/execute/{updated['version']}", json={"inputs": {}})
        assert run.status_code == 200, run.text
        done = await stack.wait_terminal(alice, graph["id"], run.json()["id"])
        assert done["status"] == "COMPLETED"
        calc, = done["node_executions"]
        assert calc["output_data"] == {"result": [42]}


async def test_an_exported_text_pipeline_runs_unchanged(stack, user_ids):
    """A full GraphModel export (nodes carrying their links, graph ids, positions) runs as imported:
    a dynamic ``values_#_name`` pin fills the template, and a static default fills the other."""
    async with stack.client(user_ids["alice"]) as alice:
        created = await alice.post("/api/graphs", json={"graph": fixture("greeting_pipeline.json")})
        assert created.status_code == 200, created.text
        graph = created.json()
        run = await alice.post(f"/api/graphs/{graph['id']}/execute/{graph['version']}", json={"inputs": {"who": "Ada"}})
        assert run.status_code == 200, run.text
        done = await stack.wait_terminal(alice, graph["id"], run.json()["id"])
    assert done["status"] == "COMPLETED", done
    assert done["outputs"] == {"greeting": ["Hello, Ada! Order #4711 ships today."], "order": ["4711"]}


def child_graph():
    return {"name": "double", "nodes": [
        {"id": "i", "block_id": INPUT, "input_default": {"name": "n"}},
        {"id": "c", "block_id": CALC, "input_default": {"operation": "Multiply", "b": 2}},
        {"id": "o", "block_id": OUTPUT, "input_default": {"name": "doubled"}},
    ], "links": [{"source_id": "i", "sink_id": "c", "source_name": "result", "sink_name": "a"},
                 {"source_id": "c", "sink_id": "o", "source_name": "result", "sink_name": "value"}]}


async def test_sub_graph_through_agent_executor_block(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        child = (await alice.post("/api/graphs", json={"graph": child_graph()})).json()
        parent = {"name": "parent", "nodes": [
            {"id": "i", "block_id": INPUT, "input_default": {"name": "x"}},
            {"id": "a", "block_id": AGENT_EXECUTOR, "input_default": {
                "graph_id": child["id"], "graph_version": 1, "inputs": {},
                "input_schema": child["input_schema"], "output_schema": child["output_schema"]}},
            {"id": "o", "block_id": OUTPUT, "input_default": {"name": "result"}},
        ], "links": [{"source_id": "i", "sink_id": "a", "source_name": "result", "sink_name": "n"},
                     {"source_id": "a", "sink_id": "o", "source_name": "doubled", "sink_name": "value"}]}
        created = await alice.post("/api/graphs", json={"graph": parent})
        assert created.status_code == 200, created.text
        pid = created.json()["id"]
        run = (await alice.post(f"/api/graphs/{pid}/execute/1", json={"inputs": {"x": 21}})).json()
        done = await stack.wait_terminal(alice, pid, run["id"])
        assert done["status"] == "COMPLETED"
        assert done["outputs"] == {"result": [42]}
        agent_node = [ne for ne in done["node_executions"] if ne["block_id"] == AGENT_EXECUTOR][0]
        assert agent_node["output_data"] == {"doubled": [42]}
        children = (await alice.get(f"/api/graphs/{child['id']}/executions")).json()["executions"]
        assert len(children) == 1 and children[0]["parent_graph_exec_id"] == run["id"]
        assert children[0]["status"] == "COMPLETED"
        assert done["stats"]["node_exec_count"] >= 3 + 3


async def test_read_models_rebuild_identically(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        graph = (await alice.post("/api/graphs", json={"graph": sample_graph()})).json()
        await alice.put(f"/api/graphs/{graph['id']}", json=sample_graph())
        run = (await alice.post(f"/api/graphs/{graph['id']}/execute/1",
                                json={"inputs": {"input_1": "a", "input_2": "b"}})).json()
        await stack.wait_terminal(alice, graph["id"], run["id"])
        await alice.get("/api/graphs")  # fence: everything recorded so far is projected
    before = await asyncio.to_thread(snapshot, stack.settings)
    counts = await rebuild(stack.settings)
    assert counts["graphs"] > 0 and counts["executions"] > 0
    after = await asyncio.to_thread(snapshot, stack.settings)
    for table in TABLES:
        assert after[table] == before[table], table
