"""``agentloom executions retry|fork|diff|lineage`` and ``agentloom reviews list|approve|reject``
against the real stack over REST (issue 17): what the terminal prints is what the API did."""

from __future__ import annotations

import asyncio
import json

import pytest_asyncio

from services.cli.main import main
from tests.conftest import drop_schema, isolated_settings
from tests.integration.helpers import eventually
from tests.integration.stack import running_stack
from tests.integration.test_human_review import _paused, _status, review_graph
from tests.integration.test_retry_fork import two_branches


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(database_url, broker):
    settings = isolated_settings(database_url, broker.bootstrap)
    async with running_stack(settings, executors=1) as running:
        yield running
    drop_schema(database_url, settings.db_schema)


async def cli(stack, user: str, capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = await asyncio.to_thread(main, [*argv, "--url", stack.base_url, "--token", stack.token(user)])
    out = capsys.readouterr()
    return code, out.out, out.err


async def test_fork_diff_and_lineage_from_the_terminal(stack, user_ids, capsys):
    user = user_ids["alice"]
    async with stack.client(user) as alice:
        graph = (await alice.post("/api/graphs", json={"graph": two_branches()})).json()
        run = (await alice.post(f"/api/graphs/{graph['id']}/execute/1", json={"inputs": {"a": 1, "b": 5}})).json()
        await stack.wait_terminal(alice, graph["id"], run["id"])
        last = (await alice.get(f"/api/executions/{run['id']}/events")).json()["events"][-1]["seq"]

        code, out, err = await cli(stack, user, capsys, "executions", "fork", run["id"], "--at-seq", str(last),
                                   "--input", "a=41", "--json")
        assert code == 0, err
        fork_id = json.loads(out)["id"]
        forked = await stack.wait_terminal(alice, graph["id"], fork_id)
        assert forked["outputs"] == {"a": [42.0], "b": [10.0]}

        code, out, err = await cli(stack, user, capsys, "executions", "diff", run["id"], fork_id)
        assert code == 0, err
        assert "changed" in out.splitlines()[0]
        changed_nodes = {line.split(":")[0].strip() for line in out.splitlines()[1:]}
        diff = (await alice.get(f"/api/executions/{run['id']}/diff/{fork_id}")).json()
        assert changed_nodes == set(diff["changed_nodes"]) and changed_nodes

        code, out, err = await cli(stack, user, capsys, "executions", "lineage", fork_id)
        assert code == 0 and f"branched off {run['id']} (fork at seq {last})" in out, (out, err)

        code, out, err = await cli(stack, user, capsys, "executions", "retry", fork_id)
        assert code == 0 and out.startswith("queued ") and f"(retry of {fork_id})" in out, err
        retried = await stack.wait_terminal(alice, graph["id"], out.split()[1])
        assert retried["outputs"] == forked["outputs"]


async def test_another_users_run_is_not_found_from_the_terminal(stack, user_ids, capsys):
    async with stack.client(user_ids["alice"]) as alice:
        graph = (await alice.post("/api/graphs", json={"graph": two_branches()})).json()
        run = (await alice.post(f"/api/graphs/{graph['id']}/execute/1", json={"inputs": {"a": 1, "b": 1}})).json()
        await stack.wait_terminal(alice, graph["id"], run["id"])
    code, _out, err = await cli(stack, user_ids["bob"], capsys, "executions", "fork", run["id"], "--at-seq", "1")
    assert code == 1 and "404" in err


async def test_reviews_from_the_terminal(stack, user_ids, capsys):
    user = user_ids["alice"]
    async with stack.client(user) as alice:
        gid, exec_id, paused = await _paused(alice, review_graph(), {"post": "draft"})

        async def listed():
            code, out, _ = await cli(stack, user, capsys, "reviews", "list", "--json")
            return [p for p in json.loads(out) if p["graph_exec_id"] == exec_id] if code == 0 else None

        review, = await eventually(listed, timeout=10, message="the review is listed")
        code, out, err = await cli(stack, user, capsys, "reviews", "approve", review["node_exec_id"],
                                   "--data", '"edited"', "--message", "fine")
        assert code == 0 and "approved" in out, err
        done = await _status(alice, gid, exec_id, "COMPLETED")
        assert done["outputs"] == {"published": ["edited"]}
        code, _out, err = await cli(stack, user, capsys, "reviews", "reject", review["node_exec_id"])
        assert code == 1 and "409" in err
        code, _out, err = await cli(stack, user, capsys, "reviews", "approve", review["node_exec_id"],
                                    "--data", "{not json")
        assert code == 1 and "--data must be JSON" in err
