"""``agentloom executions retry|fork|diff|lineage`` and ``agentloom reviews list|approve|reject``:
time travel and human review from a terminal, over the same REST API a client uses."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from services.cli.api_client import Api, ApiError


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", help="the API (default: AGENTLOOM_URL, your login, or the local stack)")
    common.add_argument("--token", help="a bearer token (default: AGENTLOOM_TOKEN or your login)")
    common.add_argument("--json", action="store_true", help="print the API's answer as JSON")
    return common


def add_parsers(sub) -> None:
    common = [_common()]
    ex = sub.add_parser("executions", help="retry, fork, diff or trace one of your runs (over the REST API)")
    ex_sub = ex.add_subparsers(dest="action", required=True)
    retry = ex_sub.add_parser("retry", parents=common, help="a new run reusing the completed nodes of this one")
    retry.add_argument("execution_id")
    retry.add_argument("--graph-version", type=int)
    fork = ex_sub.add_parser("fork", parents=common, help="a new run branching off this one after event SEQ")
    fork.add_argument("execution_id")
    fork.add_argument("--at-seq", type=int, required=True)
    fork.add_argument("--input", action="append", default=[], metavar="NAME=JSON", help="a graph input to change")
    fork.add_argument("--node-input", action="append", default=[], metavar="NODE_ID.PIN=JSON",
                      help="a node input to change")
    fork.add_argument("--graph-version", type=int)
    diff = ex_sub.add_parser("diff", parents=common, help="compare two runs node by node")
    diff.add_argument("execution_id")
    diff.add_argument("other_execution_id")
    lineage = ex_sub.add_parser("lineage", parents=common, help="the run this one branched off, and its branches")
    lineage.add_argument("execution_id")
    rv = sub.add_parser("reviews", help="node executions waiting for your review: list, approve, reject")
    rv_sub = rv.add_subparsers(dest="action", required=True)
    rv_sub.add_parser("list", parents=common, help="your waiting reviews, oldest first")
    approve = rv_sub.add_parser("approve", parents=common, help="approve a waiting node (its run resumes)")
    approve.add_argument("node_exec_id")
    approve.add_argument("--data", metavar="JSON", help="your edit of what was shown")
    approve.add_argument("--message")
    approve.add_argument("--auto-approve-future", action="store_true",
                         help="approve this node's later reviews in the same run without asking")
    reject = rv_sub.add_parser("reject", parents=common, help="reject a waiting node (its run resumes)")
    reject.add_argument("node_exec_id")
    reject.add_argument("--message")
    reject.add_argument("--outputs", metavar="JSON",
                        help="for an outcome-unknown node: the outputs it is marked done with")


def run(args: argparse.Namespace) -> int:
    api = Api.resolve(args.url, args.token)
    try:
        answer, summary = _call(api, args)
    except (ApiError, ValueError) as exc:
        print(f"agentloom: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(answer, indent=2, default=str) if args.json else summary)
    return 0


def _call(api: Api, args) -> tuple[Any, str]:
    if args.command == "executions":
        if args.action in ("retry", "fork"):
            body: dict[str, Any] = {}
            if args.graph_version is not None:
                body["graph_version"] = args.graph_version
            if args.action == "fork":
                body |= {"at_seq": args.at_seq, "inputs": dict(_pair(item) for item in args.input),
                         "node_inputs": _node_inputs(args.node_input)}
            run = api.call("POST", f"/api/executions/{args.execution_id}/{args.action}", json_body=body)
            return run, f"queued {run['id']} ({args.action} of {args.execution_id}), status {run['status']}"
        if args.action == "diff":
            diff = api.call("GET", f"/api/executions/{args.execution_id}/diff/{args.other_execution_id}")
            return diff, _diff_text(diff)
        lineage = api.call("GET", f"/api/executions/{args.execution_id}/lineage")
        return lineage, _lineage_text(lineage)
    if args.action == "list":
        pending = api.call("GET", "/api/review/pending", params={"page_size": 100})
        lines = [f"{p['node_exec_id']}  run {p['graph_exec_id']}  {p['kind']}  "
                 f"{p['instructions'] or ''}  payload={json.dumps(p['payload'])[:80]}" for p in pending]
        return pending, "\n".join(lines) or "no reviews waiting"
    decision: dict[str, Any] = {"node_exec_id": args.node_exec_id, "approved": args.action == "approve",
                                "message": args.message}
    data = args.data if args.action == "approve" else args.outputs
    if data is not None:
        decision["reviewed_data"] = _json(data, "--data" if args.action == "approve" else "--outputs")
    if args.action == "approve":
        decision["auto_approve_future"] = args.auto_approve_future
    answer = api.call("POST", "/api/review/action", json_body={"reviews": [decision]})
    return answer, f"{args.action}d {args.node_exec_id}; its run resumes once no review of it waits"


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise ValueError(f"{what} must be JSON, got {text[:60]!r}") from None


def _pair(item: str) -> tuple[str, Any]:
    name, sep, value = item.partition("=")
    if not sep or not name:
        raise ValueError(f"expected NAME=JSON, got {item!r}")
    try:
        return name, json.loads(value)
    except ValueError:
        return name, value  # a bare word is a string


def _node_inputs(items: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        target, value = _pair(item)
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
