"""Retry and fork (issue 17): a new run that takes over the completed work of the run it branches
off, re-running and charging only what changed or had not finished; lineage in both histories."""

from __future__ import annotations

import pytest_asyncio

from tests.conftest import drop_schema, isolated_settings
from tests.integration.stack import running_stack
from tests.integration.test_graphs_api import INPUT, OUTPUT

CALC = "b1ab9b19-67a6-406d-abf5-2dba76d00c79"
TEMPLATE = "db7d8f02-2f44-4c55-ab7a-eae0941f0c30"
PRICE = [{"cost_amount": 1, "cost_filter": {}}]


def chain10(template: str) -> dict:
    """n1..n10: n1 = x + 1, each next + 1, except n7, a template rendering n6's result (a broken
    template fails the node; ``{{ v }}`` passes the value on); the result is n10's."""
    nodes = [{"id": "x", "block_id": INPUT, "input_default": {"name": "x"}}]
    links = []
    for i in range(1, 11):
        if i == 7:
            nodes.append({"id": "n7", "block_id": TEMPLATE, "input_default": {"format": template}})
            links.append({"source_id": "n6", "sink_id": "n7", "source_name": "result", "sink_name": "values_#_v"})
            continue
        nodes.append({"id": f"n{i}", "block_id": CALC, "input_default": {"operation": "Add", "b": 1}})
        source, pin = ("x", "result") if i == 1 else ("n7", "output") if i == 8 else (f"n{i - 1}", "result")
        links.append({"source_id": source, "sink_id": f"n{i}", "source_name": pin, "sink_name": "a"})
    nodes.append({"id": "out", "block_id": OUTPUT, "input_default": {"name": "result"}})
    links.append({"source_id": "n10", "sink_id": "out", "source_name": "result", "sink_name": "value"})
    return {"name": "chain10", "nodes": nodes, "links": links}


def two_branches() -> dict:
    """a -> a+1 -> out_a and b -> b*2 -> out_b: independent halves."""
    return {"name": "two branches", "nodes": [
        {"id": "a", "block_id": INPUT, "input_default": {"name": "a"}},
        {"id": "b", "block_id": INPUT, "input_default": {"name": "b"}},
        {"id": "inc", "block_id": CALC, "input_default": {"operation": "Add", "b": 1}},
        {"id": "dbl", "block_id": CALC, "input_default": {"operation": "Multiply", "b": 2}},
        {"id": "oa", "block_id": OUTPUT, "input_default": {"name": "a"}},
        {"id": "ob", "block_id": OUTPUT, "input_default": {"name": "b"}},
    ], "links": [
        {"source_id": "a", "sink_id": "inc", "source_name": "result", "sink_name": "a"},
        {"source_id": "b", "sink_id": "dbl", "source_name": "result", "sink_name": "a"},
        {"source_id": "inc", "sink_id": "oa", "source_name": "result", "sink_name": "value"},
        {"source_id": "dbl", "sink_id": "ob", "source_name": "result", "sink_name": "value"},
    ]}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(database_url, broker):
    settings = isolated_settings(database_url, broker.bootstrap, block_costs={CALC: PRICE, TEMPLATE: PRICE})
    async with running_stack(settings, executors=1) as running:
        yield running
    drop_schema(database_url, settings.db_schema)


def _by_block(run: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for ne in run["node_executions"]:
        out.setdefault(ne["block_id"], []).append(ne)
    return out


async def _events(client, exec_id):
    return (await client.get(f"/api/executions/{exec_id}/events")).json()["events"]


async def _reused(client, exec_id) -> int:
    return sum(1 for e in await _events(client, exec_id)
               if e["type"] == "NodeCompleted" and "reused_from" in e["payload"]["stats"])


async def test_a_retry_on_a_fixed_version_reruns_and_charges_only_the_failed_node_and_after(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        graph = (await alice.post("/api/graphs", json={"graph": chain10("{{ v")})).json()
        before = (await alice.get("/api/credits")).json()["credits"]
        run = (await alice.post(f"/api/graphs/{graph['id']}/execute/1", json={"inputs": {"x": 0}})).json()
        first = await stack.wait_terminal(alice, graph["id"], run["id"])
        failed = [ne for ne in first["node_executions"] if ne["status"] == "FAILED"]
        assert [ne["block_id"] for ne in failed] == [TEMPLATE] and "result" not in first["outputs"]
        charged_first = before - (await alice.get("/api/credits")).json()["credits"]
        assert charged_first == 7  # n1..n7

        fixed = chain10("{{ v }}")
        fixed["id"] = graph["id"]
        v2 = (await alice.put(f"/api/graphs/{graph['id']}", json=fixed)).json()
        assert v2["version"] == 2
        retry = await alice.post(f"/api/executions/{run['id']}/retry", json={"graph_version": 2})
        assert retry.status_code == 200, retry.text
        retried = await stack.wait_terminal(alice, graph["id"], retry.json()["id"])
        assert retried["status"] == "COMPLETED" and retried["outputs"]["result"] == [9.0]
        assert retried["graph_version"] == 2
        assert await _reused(alice, retried["id"]) == 6 + 1  # n1..n6 and the input node
        charged_retry = before - charged_first - (await alice.get("/api/credits")).json()["credits"]
        assert charged_retry == 4  # n7..n10 ran; n1..n6 were taken over free

        lineage = (await alice.get(f"/api/executions/{retried['id']}/lineage")).json()
        assert lineage["branched_from"]["execution_id"] == run["id"] and lineage["branched_from"]["kind"] == "retry"
        origin = (await alice.get(f"/api/executions/{run['id']}/lineage")).json()
        assert [b["execution_id"] for b in origin["branches"]] == [retried["id"]]
        assert "ExecutionBranched" in [e["type"] for e in await _events(alice, run["id"])]


async def test_a_fork_with_one_changed_input_reruns_only_what_is_downstream_of_it(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        graph = (await alice.post("/api/graphs", json={"graph": two_branches()})).json()
        run = (await alice.post(f"/api/graphs/{graph['id']}/execute/1", json={"inputs": {"a": 1, "b": 5}})).json()
        done = await stack.wait_terminal(alice, graph["id"], run["id"])
        assert done["outputs"] == {"a": [2.0], "b": [10.0]}
        last = (await _events(alice, run["id"]))[-1]["seq"]
        fork = await alice.post(f"/api/executions/{run['id']}/fork", json={"at_seq": last, "inputs": {"a": 41}})
        assert fork.status_code == 200, fork.text
        forked = await stack.wait_terminal(alice, graph["id"], fork.json()["id"])
        assert forked["outputs"] == {"a": [42.0], "b": [10.0]}
        events = await _events(alice, forked["id"])
        reused = {e["payload"]["node_exec_id"] for e in events
                  if e["type"] == "NodeCompleted" and "reused_from" in e["payload"]["stats"]}
        b_side = {ne["node_exec_id"] for ne in forked["node_executions"]
                  if ne["node_id"] in {n["id"] for n in graph["nodes"] if n["input_default"].get("name") == "b"
                                       or n["input_default"].get("operation") == "Multiply"}}
        assert b_side and b_side <= reused  # the b input, b*2 and its output were taken over
        assert len(reused) == 3  # a, a+1 and out_a ran again

        # a fork before anything ran takes nothing over
        early = (await alice.post(f"/api/executions/{run['id']}/fork", json={"at_seq": 1})).json()
        again = await stack.wait_terminal(alice, graph["id"], early["id"])
        assert again["outputs"] == done["outputs"] and await _reused(alice, again["id"]) == 0


async def test_branching_refuses_what_it_cannot_do_and_never_crosses_users(stack, user_ids):
    from tests.integration.test_executions_api import timer_graph

    async with stack.client(user_ids["alice"]) as alice, stack.client(user_ids["bob"]) as bob:
        graph = (await alice.post("/api/graphs", json={"graph": two_branches()})).json()
        run = (await alice.post(f"/api/graphs/{graph['id']}/execute/1", json={"inputs": {"a": 1, "b": 2}})).json()
        await stack.wait_terminal(alice, graph["id"], run["id"])
        for path, body in ((f"/api/executions/{run['id']}/retry", {}),
                           (f"/api/executions/{run['id']}/fork", {"at_seq": 1})):
            r = await bob.post(path, json=body)
            assert r.status_code == 404 and run["id"] in r.json()["detail"], r.text
        assert (await bob.get(f"/api/executions/{run['id']}/lineage")).status_code == 404
        assert (await alice.post(f"/api/executions/{run['id']}/fork", json={"at_seq": 10_000})).status_code == 400
        assert (await alice.post(f"/api/executions/{run['id']}/fork", json={"at_seq": 0})).status_code == 422
        assert (await alice.post(f"/api/executions/{run['id']}/fork", json={})).status_code == 422
        r = await alice.post(f"/api/executions/{run['id']}/fork", json={"at_seq": 1, "node_inputs": {
            f"n{i}": {} for i in range(1001)}})
        assert r.status_code == 422
        assert (await alice.post("/api/executions/not-a-uuid/retry", json={})).status_code == 400
        r = await alice.post(f"/api/executions/{run['id']}/retry", json={"graph_version": 9})
        assert r.status_code == 404  # no such version
        slow = (await alice.post("/api/graphs", json={"graph": timer_graph(30)})).json()
        running = (await alice.post(f"/api/graphs/{slow['id']}/execute/1", json={})).json()
        r = await alice.post(f"/api/executions/{running['id']}/retry", json={})
        assert r.status_code == 409 and "only an ended run" in r.json()["detail"]
        await alice.post(f"/api/graphs/{slow['id']}/executions/{running['id']}/stop")
