"""The ``agentloom`` parser (click): ``--input name=value`` values, usage errors (exit 2 with a
message, never a traceback), ``--help`` listing the commands, the API's refusals printed as
``agentloom: <status> <detail>`` (exit 1), and following a run by polling when no WebSocket opens."""

from __future__ import annotations

import json

import httpx
import pytest

from services.cli import follow
from services.cli.api_client import Api, ApiError
from services.cli.common import parse_pair
from services.cli.graphs import read_graph
from services.cli.main import main

API = ["--url", "http://loom.test", "--token", "tok"]


class Calls:
    """Api.call recorded in ``log``, answered from ``answers`` by (method, path): a value, an
    exception to raise, or a function of the call's number; ``{}`` otherwise."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str, dict]] = []
        self.answers: dict = {}

    def call(self, _api, method, path, *, json_body=None, params=None):
        self.log.append((method, path, {"json": json_body, "params": params}))
        answer = self.answers.get((method, path), {})
        if isinstance(answer, Exception):
            raise answer
        return answer(len(self.log)) if callable(answer) else answer


@pytest.fixture
def calls(monkeypatch):
    recorder = Calls()
    monkeypatch.setattr(Api, "call", lambda api, *args, **kwargs: recorder.call(api, *args, **kwargs))
    return recorder


@pytest.mark.parametrize("item, expected", [
    ("a=41", ("a", 41)), ("s=hello", ("s", "hello")), ("f=1.5", ("f", 1.5)), ("t=true", ("t", True)),
    ("n=null", ("n", None)), ('o={"k": [1]}', ("o", {"k": [1]})), ("e=", ("e", "")),
    ("eq=a=b", ("eq", "a=b")), ('q="42"', ("q", "42")), ("sp=two words", ("sp", "two words")),
])
def test_input_values_are_json_when_they_parse_else_strings(item, expected):
    assert parse_pair(item) == expected


def test_run_sends_the_inputs_to_the_version_asked_for(calls, capsys):
    calls.answers[("POST", "/api/graphs/g1/execute/3")] = {"id": "e1", "graph_version": 3, "status": "QUEUED"}
    assert main(["run", "g1", "--version", "3", "--input", "a=1", "--input", "b=x", "--input", "c=[1,2]",
                 *API]) == 0
    (method, path, sent), = calls.log
    assert (method, path, sent["json"]) == ("POST", "/api/graphs/g1/execute/3",
                                            {"inputs": {"a": 1, "b": "x", "c": [1, 2]}})
    assert capsys.readouterr().out.startswith("queued e1 (graph g1 v3), status QUEUED")


def test_run_without_a_version_runs_the_active_one(calls, capsys):
    calls.answers[("POST", "/api/graphs/g1/execute")] = {"id": "e1", "graph_version": 2, "status": "QUEUED"}
    assert main(["run", "g1", *API, "--json"]) == 0
    assert calls.log[0][2]["json"] == {"inputs": {}}
    assert json.loads(capsys.readouterr().out)["id"] == "e1"


def test_schedule_create_sends_name_cron_inputs(calls, capsys):
    calls.answers[("POST", "/api/graphs/g1/schedules")] = {"id": "s1", "name": "n", "cron": "* * * * *"}
    assert main(["schedules", "create", "g1", "--cron", "* * * * *", "--name", "n", "--input", "k=v", *API]) == 0
    assert calls.log[0][2]["json"] == {"name": "n", "cron": "* * * * *", "inputs": {"k": "v"}}


@pytest.mark.parametrize("argv, message", [
    ([], "Usage: agentloom"),
    (["nope"], "No such command 'nope'"),
    (["run"], "Missing argument 'GRAPH_ID'"),
    (["run", "g1", "--input", "novalue"], "expected NAME=VALUE, got 'novalue'"),
    (["run", "g1", "--input", "=1"], "expected NAME=VALUE"),
    (["run", "g1", "--version", "two"], "'two' is not a valid integer"),
    (["schedules", "create", "g1", "--name", "n"], "Missing option '--cron'"),
    (["executions", "list", "--limit", "0"], "0 is not in the range"),
    (["executions", "fork", "e1", "--at-seq", "1", "--node-input", "nodot=1"], "NODE_ID.PIN=JSON"),
    (["serve", "everything"], "'everything' is not one of"),
    (["deadletters", "retry", "x"], "'x' is not a valid integer"),
    (["token"], "Missing option '--user'"),
    (["graphs", "import", "/no/such/file.json"], "No such file or directory"),
    (["login"], "Missing option '--token'"),
    (["up", "--executors", "0"], "--executors 0: give 1 to 8"),
    (["up", "--projectors", "9"], "--projectors 9: give 1 to 8"),
    (["up", "--executors", "two"], "'two' is not a valid integer"),
])
def test_usage_errors_exit_2_with_a_message(argv, message, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert message in captured.err + captured.out
    assert "Traceback" not in captured.err + captured.out


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("up", "serve", "token", "migrate", "projections", "relay", "credentials", "replay",
                    "deadletters", "login", "graphs", "run", "executions", "reviews", "schedules", "credits"):
        assert f"\n  {command} " in out, command
    assert main(["executions", "--help"]) == 0
    out = capsys.readouterr().out
    for command in ("list", "show", "events", "follow", "stop", "retry", "fork", "diff", "lineage"):
        assert f"\n  {command} " in out, command
    assert main(["run", "--help"]) == 0
    out = capsys.readouterr().out
    assert all(flag in out for flag in ("--version", "--input", "--follow", "--url", "--token", "--json"))


def test_the_apis_refusal_is_printed_with_its_status_and_exits_1(monkeypatch, capsys):
    def refused(method, url, **_):
        return httpx.Response(404, json={"detail": "Graph execution #e1 not found"})

    monkeypatch.setattr(httpx, "request", refused)
    assert main(["executions", "show", "e1", *API]) == 1
    assert capsys.readouterr().err == "agentloom: 404 Graph execution #e1 not found\n"

    def unprocessable(method, url, **_):
        return httpx.Response(422, json={"detail": [{"loc": ["body", "cron"], "msg": "bad cron"}]})

    monkeypatch.setattr(httpx, "request", unprocessable)
    assert main(["schedules", "create", "g1", "--cron", "x", "--name", "n", *API]) == 1
    err = capsys.readouterr().err
    assert err.startswith("agentloom: 422 ") and "bad cron" in err


def test_an_unreachable_api_says_so_and_exits_1(capsys):
    assert main(["graphs", "list", "--url", "http://127.0.0.1:1", "--token", "t"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("agentloom: cannot reach http://127.0.0.1:1") and "Traceback" not in err


def test_graph_files_are_bare_graphs_or_wrapped():
    graph = {"name": "g", "nodes": [], "links": []}
    assert read_graph(json.dumps(graph), "f") == graph
    assert read_graph(json.dumps({"graph": graph}), "f") == graph
    with pytest.raises(ValueError, match="not JSON"):
        read_graph("{nope", "f")
    with pytest.raises(ValueError, match="not an AutoGPT graph"):
        read_graph("[1]", "f")


def test_follow_polls_when_no_websocket_opens(calls, monkeypatch, capsys):
    """No WebSocket at the address: the run is polled, every node line printed once, the bar at
    nodes done / graph nodes, the outputs table, and exit 0 for COMPLETED, 1 for FAILED."""
    monkeypatch.setattr(Api, "ws_url", lambda self: "ws://127.0.0.1:1/ws")
    monkeypatch.setattr(follow, "POLL_INTERVAL_S", 0.01)
    nodes = [{"id": "n1", "block_id": "b-in", "input_default": {"name": "x"}}, {"id": "n2", "block_id": "b-out"}]

    def node(node_id, status):
        return {"node_exec_id": f"ne-{node_id}", "node_id": node_id, "block_id": "b", "status": status,
                "start_time": "2026-01-01T00:00:00+00:00", "end_time": "2026-01-01T00:00:01.5+00:00"}

    states = [
        {"status": "RUNNING", "node_executions": [node("n1", "RUNNING")]},
        {"status": "RUNNING", "node_executions": [node("n1", "COMPLETED"), node("n2", "RUNNING")]},
        {"status": "COMPLETED", "node_executions": [node("n1", "COMPLETED"), node("n2", "COMPLETED")],
         "outputs": {"result": [42], "text": ["[not markup]"]}, "stats": {"cost": 3, "duration": 1.5}},
    ]
    polls = iter(states)
    calls.answers[("POST", "/api/graphs/g1/execute/1")] = {"id": "e1", "graph_version": 1, "status": "QUEUED"}
    calls.answers[("GET", "/api/graphs/g1")] = {"id": "g1", "version": 1, "nodes": nodes}
    calls.answers[("GET", "/api/blocks/b-in")] = {"name": "AgentInputBlock"}
    calls.answers[("GET", "/api/blocks/b-out")] = ApiError(404, "no such block")
    calls.answers[("GET", "/api/graphs/g1/executions/e1")] = lambda _n: next(polls)
    assert main(["run", "g1", "--version", "1", "--follow", *API]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert [line.split("  ")[0:2] for line in lines if line.startswith("COMPLETED  ")] == [
        ["COMPLETED", "AgentInputBlock x"], ["COMPLETED", "b-out"]]
    assert any("2/2 nodes" in line for line in lines)
    assert any(line.startswith("run e1 COMPLETED, in 1.50s, cost 3") for line in lines)
    assert "42" in captured.out and "[not markup]" in captured.out
    assert "polling the REST API instead" in captured.err

    polls = iter([{"status": "FAILED", "node_executions": [node("n1", "FAILED")],
                   "stats": {"error": "Insufficient balance"}}])
    calls.answers[("GET", "/api/graphs/g1/executions/e1")] = lambda _n: next(polls)
    assert main(["run", "g1", "--version", "1", "--follow", *API]) == 1
    out = capsys.readouterr().out
    assert "FAILED     AgentInputBlock x" in out and "error: Insufficient balance" in out


def test_ctrl_c_while_following_stops_following_not_the_run(calls, monkeypatch, capsys):
    calls.answers[("POST", "/api/graphs/g1/execute/1")] = {"id": "e1", "graph_version": 1, "status": "QUEUED"}
    calls.answers[("GET", "/api/graphs/g1")] = {"id": "g1", "version": 1, "nodes": []}

    async def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("services.cli.graphs.follow", interrupted)
    assert main(["run", "g1", "--version", "1", "--follow", *API]) == 130
    err = capsys.readouterr().err
    assert "the run goes on" in err and "agentloom executions stop e1" in err
    assert not any(method == "POST" and path.endswith("/stop") for method, path, _ in calls.log)
