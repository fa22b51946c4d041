"""``agentloom executions retry|fork|diff|lineage`` and ``agentloom reviews list|approve|reject``:
time travel and human review from a terminal, over the same REST API a client uses."""

from __future__ import annotations

import json
from typing import Any

import click

from services.cli.api_client import Api
from services.cli.common import KeyValue, Out, parse_pair, rest


class NodeInput(click.ParamType):
    """``--node-input NODE_ID.PIN=JSON`` (repeatable)."""

    name = "NODE_ID.PIN=JSON"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            _node_inputs([value])
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        return value


def add_commands(executions: click.Group) -> None:
    for command in (retry, fork, diff, lineage):
        executions.add_command(command)


@click.command(help="A new run reusing the completed nodes of this one.")
@rest
@click.argument("execution_id")
@click.option("--graph-version", type=int, help="Run this version of the graph (default: the original's).")
def retry(api: Api, out: Out, execution_id: str, graph_version: int | None) -> int:
    body = {"graph_version": graph_version} if graph_version is not None else {}
    run = api.call("POST", f"/api/executions/{execution_id}/retry", json_body=body)
    out.emit(run, f"queued {run['id']} (retry of {execution_id}), status {run['status']}")
    return 0


@click.command(help="A new run branching off this one after event SEQ.")
@rest
@click.argument("execution_id")
@click.option("--at-seq", type=int, required=True, help="The original's event after which the fork branches off.")
@click.option("--input", "inputs", type=KeyValue(), multiple=True, metavar="NAME=JSON", help="A graph input to change.")
@click.option("--node-input", "node_inputs", type=NodeInput(), multiple=True, metavar="NODE_ID.PIN=JSON",
              help="A node input to change.")
@click.option("--graph-version", type=int, help="Run this version of the graph (default: the original's).")
def fork(api: Api, out: Out, execution_id: str, at_seq: int, inputs: tuple, node_inputs: tuple[str, ...],
         graph_version: int | None) -> int:
    body: dict[str, Any] = {"at_seq": at_seq, "inputs": dict(inputs), "node_inputs": _node_inputs(list(node_inputs))}
    if graph_version is not None:
        body["graph_version"] = graph_version
    run = api.call("POST", f"/api/executions/{execution_id}/fork", json_body=body)
    out.emit(run, f"queued {run['id']} (fork of {execution_id}), status {run['status']}")
    return 0


@click.command(help="Compare two runs node by node.")
@rest
@click.argument("execution_id")
@click.argument("other_execution_id")
def diff(api: Api, out: Out, execution_id: str, other_execution_id: str) -> int:
    answer = api.call("GET", f"/api/executions/{execution_id}/diff/{other_execution_id}")
    out.emit(answer, _diff_text(answer))
    return 0


@click.command(help="The run this one branched off, and its branches.")
@rest
@click.argument("execution_id")
def lineage(api: Api, out: Out, execution_id: str) -> int:
    answer = api.call("GET", f"/api/executions/{execution_id}/lineage")
    out.emit(answer, _lineage_text(answer))
    return 0


@click.group(short_help="Nodes waiting for your review: list, approve, reject.",
             help="Node executions waiting for your review: list, approve, reject.")
def reviews() -> None:
    pass


@reviews.command("list", help="Your waiting reviews, oldest first.")
@rest
def list_reviews(api: Api, out: Out) -> int:
    pending = api.call("GET", "/api/review/pending", params={"page_size": 100})
    lines = [f"{p['node_exec_id']}  run {p['graph_exec_id']}  {p['kind']}  "
             f"{p['instructions'] or ''}  payload={json.dumps(p['payload'])[:80]}" for p in pending]
    out.emit(pending, "\n".join(lines) or "no reviews waiting")
    return 0


@reviews.command(help="Approve a waiting node (its run resumes).")
@rest
@click.argument("node_exec_id")
@click.option("--data", metavar="JSON", help="Your edit of what was shown.")
@click.option("--message")
@click.option("--auto-approve-future", is_flag=True,
              help="Approve this node's later reviews in the same run without asking.")
def approve(api: Api, out: Out, node_exec_id: str, data: str | None, message: str | None,
            auto_approve_future: bool) -> int:
    decision: dict[str, Any] = {"node_exec_id": node_exec_id, "approved": True, "message": message}
    if data is not None:
        decision["reviewed_data"] = _json(data, "--data")
    decision["auto_approve_future"] = auto_approve_future
    return _decide(api, out, decision, "approved")


@reviews.command(help="Reject a waiting node (its run resumes).")
@rest
@click.argument("node_exec_id")
@click.option("--message")
@click.option("--outputs", metavar="JSON", help="For an outcome-unknown node: the outputs it is marked done with.")
def reject(api: Api, out: Out, node_exec_id: str, message: str | None, outputs: str | None) -> int:
    decision: dict[str, Any] = {"node_exec_id": node_exec_id, "approved": False, "message": message}
    if outputs is not None:
        decision["reviewed_data"] = _json(outputs, "--outputs")
    return _decide(api, out, decision, "rejected")


def _decide(api: Api, out: Out, decision: dict[str, Any], done: str) -> int:
    answer = api.call("POST", "/api/review/action", json_body={"reviews": [decision]})
    out.emit(answer, f"{done} {decision['node_exec_id']}; its run resumes once no review of it waits")
    return 0


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise ValueError(f"{what} must be JSON, got {text[:60]!r}") from None


def _pair(item: str) -> tuple[str, Any]:
    return parse_pair(item, "NAME=JSON")


def _node_inputs(items: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        target, value = parse_pair(item, "NODE_ID.PIN=JSON")
        node, dot, pin = target.partition(".")
        if not dot or not node or not pin:
            raise ValueError(f"expected NODE_ID.PIN=JSON, got {item!r}")
        out.setdefault(node, {})[pin] = value
    return out


def _diff_text(diff: dict[str, Any]) -> str:
    summary = diff["summary"]
    lines = [f"{diff['a']['id']} ({diff['a']['status']}) vs {diff['b']['id']} ({diff['b']['status']}): "
             f"{summary['same']} same, {summary['changed']} changed, {summary['only_in_a']} only in the first, "
             f"{summary['only_in_b']} only in the second"]
    for node in diff["nodes"]:
        if node["changed"]:
            lines.append(f"  {node['node_id']}: {', '.join(node['changed'])}")
    return "\n".join(lines)


def _lineage_text(lineage: dict[str, Any]) -> str:
    lines = []
    if lineage.get("branched_from"):
        source = lineage["branched_from"]
        lines.append(f"branched off {source['execution_id']} ({source['kind']} at seq {source['at_seq']})")
    for branch in lineage.get("branches", []):
        lines.append(f"branch {branch['execution_id']} ({branch['kind']} at seq {branch['at_seq']})")
    return "\n".join(lines) or "no lineage: an original run without branches"
