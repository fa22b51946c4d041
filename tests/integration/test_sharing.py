"""Share links (issue 18, AutoGPT's share routes): the owner shares an ended run, anyone with the
link reads its outputs and nothing else without signing in, and revoking or deleting ends that."""

from __future__ import annotations

import httpx
import pytest
import pytest_asyncio

from tests.conftest import drop_schema, isolated_settings
from tests.integration.helpers import eventually
from tests.integration.stack import running_stack
from tests.integration.test_executor_faults import slow_fanout_graph
from tests.integration.test_graphs_api import INPUT, OUTPUT

CALC = "b1ab9b19-67a6-406d-abf5-2dba76d00c79"


def secret_sum() -> dict:
    return {"name": "secret sum", "description": "adds a secret", "nodes": [
        {"id": "in", "block_id": INPUT, "input_default": {"name": "x"}},
        {"id": "c", "block_id": CALC, "input_default": {"operation": "Add", "b": 1}},
        {"id": "out", "block_id": OUTPUT, "input_default": {"name": "sum"}},
    ], "links": [{"source_id": "in", "sink_id": "c", "source_name": "result", "sink_name": "a"},
                 {"source_id": "c", "sink_id": "out", "source_name": "result", "sink_name": "value"}]}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(database_url, broker):
    settings = isolated_settings(database_url, broker.bootstrap, public_url="https://loom.example")
    async with running_stack(settings, executors=1) as running:
        yield running
    drop_schema(database_url, settings.db_schema)


async def _ended_run(client, stack, graph=None, inputs=None) -> tuple[str, str]:
    gid = (await client.post("/api/graphs", json={"graph": graph or secret_sum()})).json()["id"]
    run = (await client.post(f"/api/graphs/{gid}/execute/1", json={"inputs": inputs or {"x": 7654321}})).json()
    await stack.wait_terminal(client, gid, run["id"])
    return gid, run["id"]


async def _public(stack, token: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as anonymous:
        return await anonymous.get(f"/api/public/shared/{token}")


async def test_a_shared_run_shows_its_outputs_to_anyone_with_the_link_and_nothing_else(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        gid, exec_id = await _ended_run(alice, stack)
        r = await alice.post(f"/api/graphs/{gid}/executions/{exec_id}/share")
        assert r.status_code == 200, r.text
        link = r.json()
        token = link["share_token"]
        assert len(token) >= 40 and link["share_url"] == f"https://loom.example/api/public/shared/{token}"
        again = await alice.post(f"/api/graphs/{gid}/executions/{exec_id}/share")
        assert again.json()["share_token"] == token  # sharing twice keeps the one link

        public = await _public(stack, token)
        assert public.status_code == 200, public.text
        body = public.json()
        assert body["id"] == exec_id and body["graph_name"] == "secret sum" and body["status"] == "COMPLETED"
        assert body["graph_description"] == "adds a secret" and body["outputs"] == {"sum": [7654322.0]}
        assert set(body) == {"id", "graph_name", "graph_description", "status", "created_at", "outputs"}
        assert "7654321" not in public.text  # the run's input is not shown

        async def meta_says_shared():
            run = (await alice.get(f"/api/graphs/{gid}/executions/{exec_id}")).json()
            return run if run["is_shared"] else None

        run = await eventually(meta_says_shared, timeout=10, message="the owner's view says shared")
        assert run["share_token"] == token

        assert (await alice.delete(f"/api/graphs/{gid}/executions/{exec_id}/share")).status_code == 204
        assert (await _public(stack, token)).status_code == 404
        fresh = (await alice.post(f"/api/graphs/{gid}/executions/{exec_id}/share")).json()["share_token"]
        assert fresh != token and (await _public(stack, fresh)).status_code == 200

        assert (await alice.delete(f"/api/executions/{exec_id}")).status_code == 204
        assert (await _public(stack, fresh)).status_code == 404  # a deleted run is shared no more


async def test_only_the_owner_shares_or_unshares(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice, stack.client(user_ids["bob"]) as bob:
        gid, exec_id = await _ended_run(alice, stack)
        assert (await bob.post(f"/api/graphs/{gid}/executions/{exec_id}/share")).status_code == 404
        token = (await alice.post(f"/api/graphs/{gid}/executions/{exec_id}/share")).json()["share_token"]
        assert (await bob.delete(f"/api/graphs/{gid}/executions/{exec_id}/share")).status_code == 404
        assert (await _public(stack, token)).status_code == 200  # bob's attempt changed nothing
        bob_view = await bob.get(f"/api/graphs/{gid}/executions/{exec_id}")
        assert bob_view.status_code == 404


async def test_a_running_run_cannot_be_shared_yet(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        gid = (await alice.post("/api/graphs", json={"graph": slow_fanout_graph(items=2, seconds=3)})).json()["id"]
        run = (await alice.post(f"/api/graphs/{gid}/execute/1", json={})).json()
        r = await alice.post(f"/api/graphs/{gid}/executions/{run['id']}/share")
        assert r.status_code == 409 and "ended" in r.json()["detail"]
        await alice.post(f"/api/graphs/{gid}/executions/{run['id']}/stop")


@pytest.mark.parametrize("token", ["short", "x" * 101, "has spaces in it and more chars", "A" * 43])
async def test_any_other_token_reads_nothing(stack, token):
    r = await _public(stack, token)
    assert r.status_code == 404 and r.json()["detail"] == "Shared execution not found"
