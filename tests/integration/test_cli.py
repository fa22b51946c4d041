"""The ``agentloom`` REST commands against the real stack (issue 20): graphs import → list → export,
``run --follow`` over the WebSocket (and by polling when it cannot connect), executions list, show
and events, schedules, credits, and another user's run answered 404. What the terminal prints is
what the API did."""

from __future__ import annotations

import asyncio
import json

import pytest_asyncio

from services.cli.api_client import Api
from tests.conftest import drop_schema, isolated_settings
from tests.integration.stack import running_stack
from tests.integration.test_cli_time_travel import cli
from tests.integration.test_graphs_api import INPUT, OUTPUT
from tests.integration.test_human_review import _paused, review_graph
from tests.integration.test_retry_fork import two_branches

TEMPLATE = "db7d8f02-2f44-4c55-ab7a-eae0941f0c30"


def template_graph(template: str) -> dict:
    """x -> a template -> out: a template that cannot render fails its node (the run still completes,
    as AutoGPT's does); the template block is priced past any balance here, so running it fails the run."""
    return {"name": "template", "nodes": [
        {"id": "x", "block_id": INPUT, "input_default": {"name": "x"}},
        {"id": "t", "block_id": TEMPLATE, "input_default": {"format": template}},
        {"id": "out", "block_id": OUTPUT, "input_default": {"name": "result"}},
    ], "links": [
        {"source_id": "x", "sink_id": "t", "source_name": "result", "sink_name": "values_#_v"},
        {"source_id": "t", "sink_id": "out", "source_name": "output", "sink_name": "value"},
    ]}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(database_url, broker):
    settings = isolated_settings(database_url, broker.bootstrap,
                                 block_costs={TEMPLATE: [{"cost_amount": 10**9, "cost_filter": {}}]})
    async with running_stack(settings, executors=1) as running:
        yield running
    drop_schema(database_url, settings.db_schema)


def table_rows(out: str) -> set[tuple[str, ...]]:
    """The rows of the tables printed (rich draws cells apart with │)."""
    return {tuple(cell.strip() for cell in line.split("│")) for line in out.splitlines() if "│" in line}


async def imported(stack, user, capsys, tmp_path, graph: dict) -> str:
    path = tmp_path / f"{graph['name'].replace(' ', '-')}.json"
    path.write_text(json.dumps({"graph": graph}))
    code, out, err = await cli(stack, user, capsys, "graphs", "import", str(path), "--json")
    assert code == 0, err
    return json.loads(out)["id"]


async def test_graphs_import_list_and_export_round_trip(stack, user_ids, capsys, tmp_path):
    user = user_ids["alice"]
    source = tmp_path / "two.json"
    source.write_text(json.dumps({"graph": two_branches()}))
    code, out, err = await cli(stack, user, capsys, "graphs", "import", str(source))
    assert code == 0, err
    assert out.startswith("imported ") and " v1 (two branches), 6 nodes, 4 links" in out
    gid = out.split()[1]

    code, out, err = await cli(stack, user, capsys, "graphs", "list")
    assert code == 0 and gid in out and "two branches" in out, err

    exported = tmp_path / "exported.json"
    code, out, err = await cli(stack, user, capsys, "graphs", "export", gid, "--version", "1", "-o", str(exported))
    assert code == 0 and f"exported {gid} v1 to {exported}" in out, err
    graph = json.loads(exported.read_text())
    assert graph["id"] == gid and graph["version"] == 1
    assert sorted(n["block_id"] for n in graph["nodes"]) == sorted(n["block_id"] for n in two_branches()["nodes"])

    code, out, err = await cli(stack, user, capsys, "graphs", "export", gid)  # to stdout: the same JSON
    assert code == 0 and json.loads(out) == graph, err

    code, out, err = await cli(stack, user, capsys, "graphs", "import", str(exported), "--json")  # a bare graph
    assert code == 0, err
    again = json.loads(out)
    assert again["name"] == "two branches" and len(again["nodes"]) == 6 and len(again["links"]) == 4
    code, out, _ = await cli(stack, user, capsys, "graphs", "list", "--json")
    assert {gid, again["id"]} <= {g["id"] for g in json.loads(out)}

    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    code, _out, err = await cli(stack, user, capsys, "graphs", "import", str(bad))
    assert code == 1 and "is not an AutoGPT graph" in err


async def test_run_follow_shows_progress_and_outputs_and_exits_0(stack, user_ids, capsys, tmp_path):
    user = user_ids["alice"]
    gid = await imported(stack, user, capsys, tmp_path, two_branches())
    code, out, err = await cli(stack, user, capsys, "run", gid, "--input", "a=1", "--input", "b=5", "--follow")
    assert code == 0, (out, err)
    lines = out.splitlines()
    assert sum(1 for line in lines if line.startswith("COMPLETED  ")) == 6, out
    assert any(line.startswith("COMPLETED  AgentInputBlock a  node ") for line in lines), out
    assert sum(1 for line in lines if line.startswith("COMPLETED  CalculatorBlock  node ")) == 2, out
    assert any("6/6 nodes" in line for line in lines), out  # the bar's last state
    assert any(line.startswith("run ") and "COMPLETED" in line for line in lines), out
    rows = table_rows(out)
    assert ("a", "2.0") in rows and ("b", "10.0") in rows, out  # the outputs table
    assert err == ""


async def test_a_failing_run_exits_1(stack, user_ids, capsys, tmp_path):
    user = user_ids["alice"]
    gid = await imported(stack, user, capsys, tmp_path, template_graph("{{ v }}"))
    code, out, err = await cli(stack, user, capsys, "run", gid, "--input", "x=1", "--follow")
    assert code == 1, (out, err)
    lines = out.splitlines()
    assert any(line.startswith(("FAILED     FillTextTemplateBlock", "TERMINATED FillTextTemplateBlock"))
               for line in lines), out
    summary, = [line for line in lines if line.startswith("run ") and "nodes" not in line]
    assert " FAILED" in summary and "error:" in summary, out
    assert "no outputs" in out and err == ""


async def test_follow_falls_back_to_polling_without_a_websocket(stack, user_ids, capsys, tmp_path, monkeypatch):
    user = user_ids["alice"]
    gid = await imported(stack, user, capsys, tmp_path, two_branches())
    monkeypatch.setattr(Api, "ws_url", lambda self: "ws://127.0.0.1:1/ws")
    code, out, err = await cli(stack, user, capsys, "run", gid, "--input", "a=2", "--input", "b=2", "--follow")
    assert code == 0, (out, err)
    assert "polling the REST API instead" in err
    rows = table_rows(out)
    assert ("a", "3.0") in rows and ("b", "4.0") in rows, out


async def test_a_followed_run_waits_for_a_review_and_goes_on_after_approval(stack, user_ids, capsys):
    user = user_ids["alice"]
    async with stack.client(user) as alice:
        _gid, exec_id, paused = await _paused(alice, review_graph(), {"post": "draft"})
        following = asyncio.create_task(cli(stack, user, capsys, "executions", "follow", exec_id))
        await asyncio.sleep(1.0)  # following, the run paused
        assert not following.done()
        waiting, = [ne for ne in paused["node_executions"] if ne["status"] == "REVIEW"]
        decided = await alice.post("/api/review/action", json={"reviews": [
            {"node_exec_id": waiting["node_exec_id"], "approved": True, "reviewed_data": "edited"}]})
        assert decided.status_code == 200, decided.text
        code, out, err = await asyncio.wait_for(following, timeout=30)
    assert code == 0, (out, err)
    assert any(line.startswith("REVIEW") and "agentloom reviews list" in line for line in out.splitlines()), out
    assert ("published", "edited") in table_rows(out), out


async def test_executions_list_show_events_and_follow(stack, user_ids, capsys, tmp_path):
    user = user_ids["alice"]
    gid = await imported(stack, user, capsys, tmp_path, two_branches())
    code, out, err = await cli(stack, user, capsys, "run", gid, "--version", "1", "--input", "a=1", "--input",
                               "b=1", "--json")
    assert code == 0, err
    exec_id = json.loads(out)["id"]
    code, out, err = await cli(stack, user, capsys, "executions", "follow", exec_id)
    assert code == 0 and "6/6 nodes" in out, (out, err)

    code, out, err = await cli(stack, user, capsys, "executions", "list", "--graph", gid)
    assert code == 0 and exec_id in out and "COMPLETED" in out, err
    code, out, err = await cli(stack, user, capsys, "executions", "list", "--limit", "5", "--json")
    assert code == 0 and exec_id in {run["id"] for run in json.loads(out)}, err

    code, out, err = await cli(stack, user, capsys, "executions", "show", exec_id)
    assert code == 0, err
    assert f"execution {exec_id}" in out and f"{gid} v1" in out
    node_rows = [row for row in table_rows(out) if row[0] == "CalculatorBlock"]
    assert len(node_rows) == 2 and all("COMPLETED" in row for row in node_rows), out
    rows = table_rows(out)
    assert ("a", "2.0") in rows and ("b", "2.0") in rows, out

    code, out, err = await cli(stack, user, capsys, "executions", "events", exec_id)
    assert code == 0, err
    assert "ExecutionQueued" in out and "ExecutionCompleted" in out and "NodeCompleted" in out
    code, out, _ = await cli(stack, user, capsys, "executions", "events", exec_id, "--json")
    events = json.loads(out)["events"]
    assert events[0]["seq"] == 1 and events[-1]["type"] == "ExecutionCompleted"
    code, out, err = await cli(stack, user, capsys, "executions", "stop", exec_id)  # an ended run: as it ended
    assert code == 0 and out.strip() == f"run {exec_id} COMPLETED", (out, err)


async def test_schedules_create_list_delete(stack, user_ids, capsys, tmp_path):
    user = user_ids["alice"]
    gid = await imported(stack, user, capsys, tmp_path, two_branches())
    code, out, err = await cli(stack, user, capsys, "schedules", "create", gid, "--cron", "0 3 * * *",
                               "--name", "nightly", "--input", "a=1", "--input", "b=2", "--timezone", "UTC")
    assert code == 0 and out.startswith("scheduled ") and "nightly: 0 3 * * * UTC" in out, (out, err)
    schedule_id = out.split()[1]
    code, out, err = await cli(stack, user, capsys, "schedules", "list")
    assert code == 0 and schedule_id in out and "nightly" in out and '{"a": 1, "b": 2}' in out, err
    code, out, _ = await cli(stack, user, capsys, "schedules", "list", "--json")
    listed, = [s for s in json.loads(out) if s["id"] == schedule_id]
    assert listed["input_data"] == {"a": 1, "b": 2} and listed["cron"] == "0 3 * * *"
    code, out, err = await cli(stack, user, capsys, "schedules", "delete", schedule_id)
    assert code == 0 and f"deleted schedule {schedule_id}" in out, err
    code, out, _ = await cli(stack, user, capsys, "schedules", "list", "--json")
    assert schedule_id not in {s["id"] for s in json.loads(out)}
    code, _out, err = await cli(stack, user, capsys, "schedules", "delete", schedule_id)
    assert code == 1 and err.startswith("agentloom: 404 "), err


async def test_credits_show_the_balance_and_transactions(stack, user_ids, capsys):
    user = user_ids["alice"]
    code, out, err = await cli(stack, user, capsys, "credits", "--json")
    assert code == 0, err
    answer = json.loads(out)
    assert isinstance(answer["credits"], int) and isinstance(answer["transactions"], list)
    code, out, err = await cli(stack, user, capsys, "credits")
    assert code == 0 and out.startswith(f"balance: {answer['credits']} credits"), (out, err)


async def test_another_users_execution_is_the_apis_404(stack, user_ids, capsys, tmp_path):
    alice, bob = user_ids["alice"], user_ids["bob"]
    gid = await imported(stack, alice, capsys, tmp_path, two_branches())
    code, out, err = await cli(stack, alice, capsys, "run", gid, "--input", "a=1", "--input", "b=1", "--json")
    exec_id = json.loads(out)["id"]
    for argv in (["executions", "show", exec_id], ["executions", "events", exec_id],
                 ["executions", "follow", exec_id], ["graphs", "export", gid]):
        code, out, err = await cli(stack, bob, capsys, *argv)
        assert code == 1 and err.startswith("agentloom: 404 ") and "not found" in err, (argv, out, err)
        assert "Traceback" not in err
    code, _out, err = await cli(stack, bob, capsys, "run", gid, "--follow")
    assert code == 1 and err.startswith("agentloom: 404 "), err
