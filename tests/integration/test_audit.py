"""Audit replay: the full history from the store, the state after any event, the replay timeline,
and soft deletion."""

import asyncio
import subprocess
import sys

import orjson

from tests.integration.processes import ROOT, settings_env
from tests.integration.test_executions_api import sample_graph


async def _finished_run(stack, client):
    gid = (await client.post("/api/graphs", json={"graph": sample_graph()})).json()["id"]
    exec_id = (await client.post(f"/api/graphs/{gid}/execute/1",
                                 json={"inputs": {"input_1": "Hello", "input_2": "World"}})).json()["id"]
    done = await stack.wait_terminal(client, gid, exec_id)
    return gid, exec_id, done


def _comparable(view):
    return {"status": view["status"], "outputs": view["outputs"],
            "nodes": sorted((ne["node_exec_id"], ne["status"], _canonical(ne["input_data"]),
                             _canonical(ne["output_data"])) for ne in view["node_executions"])}


def _canonical(value) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


async def test_history_state_at_seq_and_read_model_agree(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice, stack.client(user_ids["bob"]) as bob:
        gid, exec_id, done = await _finished_run(stack, alice)
        history = (await alice.get(f"/api/executions/{exec_id}/events")).json()["events"]
        assert [e["seq"] for e in history] == list(range(1, len(history) + 1))
        assert history[0]["type"] == "ExecutionQueued" and history[0]["cause"] is None
        assert history[-1]["type"] == "ExecutionCompleted"
        by_seq = {e["seq"]: e for e in history}
        for entry in history:
            if entry["type"] == "NodeStarted":
                assert by_seq[entry["cause"]]["type"] == "NodeQueued"
            if entry["type"] == "NodeInputAdded":
                assert by_seq[entry["cause"]]["type"] == "NodeOutput"
        final = (await alice.get(f"/api/executions/{exec_id}/state")).json()
        assert _comparable(final) == _comparable(done)
        assert final["seq"] == len(history)
        previous_completed = -1
        for n in range(1, len(history) + 1):
            at = (await alice.get(f"/api/executions/{exec_id}/state", params={"at_seq": n})).json()
            assert at["seq"] == n
            completed = sum(1 for ne in at["node_executions"] if ne["status"] == "COMPLETED")
            assert completed >= previous_completed
            previous_completed = completed
            if history[n - 1]["type"] == "ExecutionStarted":
                assert at["status"] == "RUNNING" and at["node_executions"] == [] and at["outputs"] == {}
        assert (await alice.get(f"/api/executions/{exec_id}/state", params={"at_seq": 10_000})).status_code == 400
        assert (await bob.get(f"/api/executions/{exec_id}/events")).status_code == 404
        assert (await bob.get(f"/api/executions/{exec_id}/state")).status_code == 404


async def test_replay_cli_prints_a_timeline(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        _gid, exec_id, _done = await _finished_run(stack, alice)
    result = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "services.cli.main", "replay", exec_id], cwd=ROOT,
        env=settings_env(stack.settings), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"execution {exec_id}" in out and "status COMPLETED" in out
    assert "NodeOutput" in out and "node durations:" in out
    assert out.count(" ms\n") >= 5  # one duration line per node execution


async def test_soft_delete_hides_the_execution(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice, stack.client(user_ids["bob"]) as bob:
        gid, exec_id, _ = await _finished_run(stack, alice)
        assert (await bob.delete(f"/api/executions/{exec_id}")).status_code == 404
        assert (await alice.delete(f"/api/executions/{exec_id}")).status_code == 204
        assert (await alice.get(f"/api/graphs/{gid}/executions/{exec_id}")).status_code == 404
        assert (await alice.get(f"/api/graphs/{gid}/executions")).json()["executions"] == []
        assert (await alice.delete(f"/api/executions/{exec_id}")).status_code == 404
        assert (await alice.delete("/api/executions/not-a-uuid")).status_code == 400
