"""Seed-named routes and AutoGPT drift fixes (issue 18): one block by id, a run's results on the
user API, execute the active version, the external API's raw-graph create (201) and its results
with node inputs unwrapped from ``value``."""

from __future__ import annotations

import pytest_asyncio

from tests.conftest import drop_schema, isolated_settings
from tests.integration.stack import running_stack
from tests.integration.test_api_keys import ALL, CALCULATOR, EXT, adder_graph, external, new_key


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(database_url, broker):
    settings = isolated_settings(database_url, broker.bootstrap)
    async with running_stack(settings, executors=1) as running:
        yield running
    drop_schema(database_url, settings.db_schema)


async def test_one_block_by_id_is_its_catalogue_entry(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice, stack.client() as anon:
        listed = {b["id"]: b for b in (await alice.get("/api/blocks")).json()}
        one = await alice.get(f"/api/blocks/{CALCULATOR}")
        assert one.status_code == 200 and one.json() == listed[CALCULATOR]
        r = await alice.get("/api/blocks/no-such-block")
        assert r.status_code == 404 and "no-such-block" in r.json()["detail"]
        assert (await alice.get("/api/blocks/" + "x" * 65)).status_code == 422
        assert (await anon.get(f"/api/blocks/{CALCULATOR}")).status_code == 401


async def test_execute_without_a_version_runs_the_active_one_and_results_read_like_autogpt(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice, stack.client(user_ids["bob"]) as bob:
        graph = (await alice.post("/api/graphs", json={"graph": adder_graph()})).json()
        v2 = adder_graph()
        v2["nodes"][1]["input_default"]["b"] = 10
        assert (await alice.put(f"/api/graphs/{graph['id']}", json=v2)).json()["version"] == 2
        await alice.put(f"/api/graphs/{graph['id']}/versions/active", json={"active_graph_version": 1})
        run = await alice.post(f"/api/graphs/{graph['id']}/execute", json={"inputs": {"x": 1}})
        assert run.status_code == 200 and run.json()["graph_version"] == 1, run.text
        done = await stack.wait_terminal(alice, graph["id"], run.json()["id"])
        assert done["outputs"] == {"sum": [3]}
        assert (await bob.post(f"/api/graphs/{graph['id']}/execute", json={})).status_code == 404
        assert (await alice.post("/api/graphs/not-a-uuid/execute", json={})).status_code == 400

        results = await alice.get(f"/api/executions/{done['id']}/results")
        assert results.status_code == 200
        body = results.json()
        assert body["execution_id"] == done["id"] and body["status"] == "COMPLETED"
        assert body["output"] == [{"sum": 3}]
        by_input = {str(n["input"]) for n in body["nodes"]}
        assert "1" in by_input  # the input node's input is its value, unwrapped as AutoGPT does
        assert (await bob.get(f"/api/executions/{done['id']}/results")).status_code == 404
        assert (await alice.get("/api/executions/not-a-uuid/results")).status_code == 400


async def test_external_graph_create_takes_the_raw_graph_and_answers_201(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        _, plain = await new_key(alice, ALL)
        async with external(stack, plain) as ext:
            raw = await ext.post(f"{EXT}/graphs", json=adder_graph("raw"))
            assert raw.status_code == 201 and raw.json()["name"] == "raw", raw.text
            wrapped = await ext.post(f"{EXT}/graphs", json={"graph": adder_graph("wrapped")})
            assert wrapped.status_code == 201 and wrapped.json()["name"] == "wrapped", wrapped.text
            bad = await ext.post(f"{EXT}/graphs", json={"nodes": "nope"})
            assert 400 <= bad.status_code < 500
            gid = raw.json()["id"]
            run = (await ext.post(f"{EXT}/graphs/{gid}/execute/1", json={"node_input": {"x": 4}})).json()
            await stack.wait_terminal(alice, gid, run["id"])
            results = (await ext.get(f"{EXT}/graphs/{gid}/executions/{run['id']}/results")).json()
            assert results["output"] == [{"sum": 6}]
            assert 4 in [n["input"] for n in results["nodes"]]  # unwrapped from {"value": 4, ...}


async def test_graph_updates_answer_autogpt_current_shapes_as_well(stack, user_ids):
    """``PUT /api/graphs/{id}`` keeps the bare GraphModel and adds ``graph`` and
    ``skipped_webhook_presets`` (AutoGPT's ``UpdateGraphResponse``); ``PUT …/versions/active`` adds
    ``skipped_webhook_presets`` to ``{id, active_graph_version}``."""
    async with stack.client(user_ids["alice"]) as alice:
        graph = (await alice.post("/api/graphs", json={"graph": adder_graph()})).json()
        updated = await alice.put(f"/api/graphs/{graph['id']}", json=adder_graph("second"))
        body = updated.json()
        assert updated.status_code == 200 and body["version"] == 2 and body["name"] == "second"
        assert body["graph"]["version"] == 2 and body["graph"]["id"] == graph["id"]
        assert body["graph"]["nodes"] == body["nodes"] and body["skipped_webhook_presets"] == []
        active = await alice.put(f"/api/graphs/{graph['id']}/versions/active", json={"active_graph_version": 1})
        assert active.json() == {"id": graph["id"], "active_graph_version": 1, "skipped_webhook_presets": []}


async def test_execute_records_the_callers_source_and_bounds_it(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        graph = (await alice.post("/api/graphs", json={"graph": adder_graph()})).json()
        run = await alice.post(f"/api/graphs/{graph['id']}/execute/1", json={"inputs": {"x": 1}, "source": "library"})
        assert run.status_code == 200, run.text
        events = (await alice.get(f"/api/executions/{run.json()['id']}/events")).json()
        queued = next(e for e in events["events"] if e["type"] == "ExecutionQueued")
        assert queued["payload"]["source"] == "library"
        plain = await alice.post(f"/api/graphs/{graph['id']}/execute/1", json={"inputs": {"x": 1}})
        events = (await alice.get(f"/api/executions/{plain.json()['id']}/events")).json()
        assert next(e for e in events["events"] if e["type"] == "ExecutionQueued")["payload"]["source"] is None
        for bad in ("x" * 65, "", "a b", "<script>"):
            refused = await alice.post(f"/api/graphs/{graph['id']}/execute/1", json={"inputs": {}, "source": bad})
            assert refused.status_code == 422 and "source" in refused.text, (bad, refused.text)
