"""The external API's library, preset, schedule and run routes (issue 18): an API key reads and
drives its owner's library, presets, schedules and runs with AutoGPT's scopes, in the ``/api``
shapes; another user's ids are "not found" and a key without the scope is 403."""

from __future__ import annotations

import pytest_asyncio

from tests.conftest import drop_schema, isolated_settings
from tests.integration.stack import running_stack
from tests.integration.test_api_keys import EXT, adder_graph, external, new_key

SCOPES = ["READ_LIBRARY", "READ_SCHEDULE", "WRITE_SCHEDULE", "READ_RUN", "WRITE_RUN", "EXECUTE_GRAPH"]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(database_url, broker):
    settings = isolated_settings(database_url, broker.bootstrap)
    async with running_stack(settings, executors=1) as running:
        yield running
    drop_schema(database_url, settings.db_schema)


async def _keys(stack, alice, bob):
    _, alice_key = await new_key(alice, SCOPES)
    _, bob_key = await new_key(bob, SCOPES)
    _, bare_key = await new_key(alice, ["IDENTITY"])
    return external(stack, alice_key), external(stack, bob_key), external(stack, bare_key)


async def test_runs_list_read_and_stop_per_owner(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice, stack.client(user_ids["bob"]) as bob:
        ext, other, bare = await _keys(stack, alice, bob)
        async with ext, other, bare:
            gid = (await alice.post("/api/graphs", json={"graph": adder_graph()})).json()["id"]
            run = (await ext.post(f"{EXT}/graphs/{gid}/execute/1", json={"node_input": {"x": 5}})).json()
            await stack.wait_terminal(alice, gid, run["id"])

            listed = await ext.get(f"{EXT}/runs", params={"graph_id": gid})
            assert listed.status_code == 200, listed.text
            page = listed.json()
            assert [r["id"] for r in page["executions"]] == [run["id"]] and page["pagination"]["total_items"] == 1
            one = (await ext.get(f"{EXT}/runs/{run['id']}")).json()
            assert one["status"] == "COMPLETED" and one["outputs"] == {"sum": [7]} and one["node_executions"]
            stopped = await ext.post(f"{EXT}/runs/{run['id']}/stop")
            assert stopped.status_code == 200 and stopped.json()["status"] == "COMPLETED"  # ended: its meta

            assert (await other.get(f"{EXT}/runs")).json()["executions"] == []
            assert (await other.get(f"{EXT}/runs/{run['id']}")).status_code == 404
            assert (await other.post(f"{EXT}/runs/{run['id']}/stop")).status_code == 404
            denied = await bare.get(f"{EXT}/runs")
            assert denied.status_code == 403 and "READ_RUN" in denied.json()["detail"]
            assert (await bare.post(f"{EXT}/runs/{run['id']}/stop")).status_code == 403
            assert (await ext.get(f"{EXT}/runs/not-a-uuid")).status_code == 400
            assert (await ext.get(f"{EXT}/runs", params={"page_size": 101})).status_code == 422


async def test_library_and_presets_read_and_run_per_owner(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice, stack.client(user_ids["bob"]) as bob:
        ext, other, bare = await _keys(stack, alice, bob)
        async with ext, other, bare:
            gid = (await alice.post("/api/graphs", json={"graph": adder_graph("lib")})).json()["id"]
            agents = (await ext.get(f"{EXT}/library/agents")).json()
            assert [a["graph_id"] for a in agents["agents"]] == [gid] and agents["pagination"]["total_items"] == 1
            agent_id = agents["agents"][0]["id"]
            assert (await ext.get(f"{EXT}/library/agents/{agent_id}")).json()["graph_id"] == gid
            assert (await other.get(f"{EXT}/library/agents/{agent_id}")).status_code == 404
            assert (await other.get(f"{EXT}/library/agents")).json()["agents"] == []

            preset = (await alice.post("/api/library/presets", json={
                "name": "five", "description": "x=5", "graph_id": gid, "graph_version": 1,
                "inputs": {"x": 5}, "credentials": {}})).json()
            presets = (await ext.get(f"{EXT}/library/presets", params={"graph_id": gid})).json()
            assert [p["id"] for p in presets["presets"]] == [preset["id"]]
            assert (await ext.get(f"{EXT}/library/presets/{preset['id']}")).json() == preset
            run = await ext.post(f"{EXT}/library/presets/{preset['id']}/execute", json={"inputs": {"x": 1}})
            assert run.status_code == 200, run.text
            done = await stack.wait_terminal(alice, gid, run.json()["id"])
            assert done["outputs"] == {"sum": [3]} and done["preset_id"] == preset["id"]  # the request's x wins

            assert (await other.get(f"{EXT}/library/presets/{preset['id']}")).status_code == 404
            assert (await other.post(f"{EXT}/library/presets/{preset['id']}/execute", json={})).status_code == 404
            assert (await bare.get(f"{EXT}/library/agents")).status_code == 403
            assert (await bare.post(f"{EXT}/library/presets/{preset['id']}/execute", json={})).status_code == 403
            assert (await ext.get(f"{EXT}/library/agents", params={"search_term": "x" * 1000})).status_code == 422


async def test_schedules_create_list_delete_per_owner(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice, stack.client(user_ids["bob"]) as bob:
        ext, other, bare = await _keys(stack, alice, bob)
        async with ext, other, bare:
            gid = (await alice.post("/api/graphs", json={"graph": adder_graph("timed")})).json()["id"]
            body = {"name": "hourly", "cron": "0 * * * *", "inputs": {"x": 1}}
            created = await ext.post(f"{EXT}/graphs/{gid}/schedules", json=body)
            assert created.status_code == 201, created.text
            schedule = created.json()
            assert schedule["graph_id"] == gid and schedule["cron"] == "0 * * * *"
            assert [s["id"] for s in (await ext.get(f"{EXT}/schedules")).json()] == [schedule["id"]]
            assert (await ext.get(f"{EXT}/schedules", params={"graph_id": gid})).json()[0]["id"] == schedule["id"]

            assert (await other.get(f"{EXT}/schedules")).json() == []
            assert (await other.delete(f"{EXT}/schedules/{schedule['id']}")).status_code == 404
            assert (await other.post(f"{EXT}/graphs/{gid}/schedules", json=body)).status_code == 404
            assert (await bare.get(f"{EXT}/schedules")).status_code == 403
            assert (await bare.post(f"{EXT}/graphs/{gid}/schedules", json=body)).status_code == 403
            bad = await ext.post(f"{EXT}/graphs/{gid}/schedules", json={**body, "cron": "every day"})
            assert bad.status_code == 400 and "cron" in bad.text.lower()
            assert (await ext.post(f"{EXT}/graphs/{gid}/schedules", json={**body, "name": ""})).status_code == 422

            gone = await ext.delete(f"{EXT}/schedules/{schedule['id']}")
            assert gone.status_code == 200 and gone.json()["id"] == schedule["id"]
            assert (await ext.get(f"{EXT}/schedules")).json() == []


async def test_credits_balance_and_cost_summary_per_owner(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice, stack.client(user_ids["bob"]) as bob:
        _, alice_key = await new_key(alice, ["READ_CREDITS", "EXECUTE_GRAPH"])
        _, bob_key = await new_key(bob, ["READ_CREDITS"])
        _, bare_key = await new_key(alice, ["READ_RUN"])
        async with external(stack, alice_key) as ext, external(stack, bob_key) as other, \
                external(stack, bare_key) as bare:
            balance = await ext.get(f"{EXT}/credits")
            assert balance.status_code == 200 and balance.json() == (await alice.get("/api/credits")).json()
            gid = (await alice.post("/api/graphs", json={"graph": adder_graph()})).json()["id"]
            run = (await ext.post(f"{EXT}/graphs/{gid}/execute/1", json={"node_input": {"x": 5}})).json()
            await stack.wait_terminal(alice, gid, run["id"])
            summary = (await ext.get(f"{EXT}/credits/cost-summary")).json()
            assert summary == (await alice.get("/api/executions/cost-summary")).json()
            assert summary["run_count"] == 1 and summary["top_runs"][0]["execution_id"] == run["id"]
            assert (await other.get(f"{EXT}/credits/cost-summary")).json()["run_count"] == 0
            assert (await bare.get(f"{EXT}/credits")).status_code == 403
            assert (await bare.get(f"{EXT}/credits/cost-summary")).status_code == 403
            refused = await ext.get(f"{EXT}/credits/cost-summary", params={"since": "2026-12-02T00:00:00Z",
                                                                          "until": "2026-12-01T00:00:00Z"})
            assert refused.status_code == 422


async def test_creating_routes_replay_an_idempotency_key(stack, user_ids):
    """A repeat with the same Idempotency-Key answers the first answer and records nothing more."""
    async with stack.client(user_ids["alice"]) as alice:
        _, plain = await new_key(alice, SCOPES)
        async with external(stack, plain) as ext:
            gid = (await alice.post("/api/graphs", json={"graph": adder_graph("keyed")})).json()["id"]
            preset = (await alice.post("/api/library/presets", json={
                "name": "p", "graph_id": gid, "graph_version": 1, "inputs": {"x": 1}})).json()
            once = {"Idempotency-Key": "run-preset-1"}
            first = await ext.post(f"{EXT}/library/presets/{preset['id']}/execute", json={}, headers=once)
            again = await ext.post(f"{EXT}/library/presets/{preset['id']}/execute", json={}, headers=once)
            assert first.status_code == again.status_code == 200 and again.json() == first.json()
            assert again.headers.get("Idempotent-Replayed") == "true"
            await stack.wait_terminal(alice, gid, first.json()["id"])
            assert [r["id"] for r in (await ext.get(f"{EXT}/runs", params={"graph_id": gid})).json()["executions"]] \
                == [first.json()["id"]]

            body, keyed = {"name": "n", "cron": "0 4 * * *", "inputs": {"x": 1}}, {"Idempotency-Key": "sched-1"}
            made = await ext.post(f"{EXT}/graphs/{gid}/schedules", json=body, headers=keyed)
            repeat = await ext.post(f"{EXT}/graphs/{gid}/schedules", json=body, headers=keyed)
            assert made.status_code == repeat.status_code == 201 and repeat.json()["id"] == made.json()["id"]
            assert len((await ext.get(f"{EXT}/schedules")).json()) == 1
            other = await ext.post(f"{EXT}/graphs/{gid}/schedules", json={**body, "name": "m"}, headers=keyed)
            assert other.status_code == 422
