"""An execution's history as an audit trail: every event in order with its cause, the state as it
stood after any event, and a readable timeline (pure; callers read the rows).

Causes are derived from the stream's shape, which the executor keeps on purpose: the routing an
output caused (inputs added, successors queued and started) is recorded right after that output
in the same write, a node's own events follow its ``NodeStarted``, and the run's end follows the
last node event or the stop request.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.domain.executions.state import ExecutionState
from services.domain.executions.views import execution_with_nodes

ROUTING = {"NodeInputAdded", "NodeQueued", "NodeStarted"}


def with_causes(events: list[tuple[int, str, datetime, dict[str, Any]]]) -> list[dict[str, Any]]:
    """``[(seq, type, occurred_at, payload)]`` -> audit entries ``{seq, type, time, payload, cause}``."""
    out: list[dict[str, Any]] = []
    queued_at: dict[str, int] = {}
    started_at: dict[str, int] = {}
    last_output: int | None = None
    last_seq: int | None = None
    for seq, kind, at, payload in events:
        node_exec = payload.get("node_exec_id")
        cause: int | None
        if kind == "ExecutionQueued":
            cause = None
        elif kind == "ExecutionStarted":
            cause = 1
        elif kind == "NodeStarted":
            cause = queued_at.get(node_exec)
        elif kind in ROUTING:
            cause = last_output if last_output is not None else _start_seq(out)
        elif kind in ("NodeOutput", "NodeCompleted", "NodeFailed"):
            cause = started_at.get(node_exec)
        else:
            cause = last_seq
        if kind == "NodeQueued":
            queued_at[node_exec] = seq
        if kind == "NodeStarted":
            started_at[node_exec] = seq
        last_output = seq if kind == "NodeOutput" else (last_output if kind in ROUTING else None)
        last_seq = seq
        out.append({"seq": seq, "type": kind, "time": at.isoformat(), "payload": payload, "cause": cause})
    return out


def _start_seq(entries: list[dict[str, Any]]) -> int | None:
    for entry in entries:
        if entry["type"] == "ExecutionStarted":
            return entry["seq"]
    return None


def state_at(state: ExecutionState) -> dict[str, Any]:
    """The execution as it stood (after folding up to some seq), with the cost spent so far."""
    view = execution_with_nodes(state)
    cost = sum(int(ne.stats.get("cost", 0)) for ne in state.node_execs.values())
    return {**view, "seq": state.version, "cost_so_far": cost}


def timeline(state: ExecutionState, entries: list[dict[str, Any]]) -> list[str]:
    """Readable lines: each event with its offset from the start, then per-node durations."""
    if not entries:
        return []
    t0 = datetime.fromisoformat(entries[0]["time"])
    lines = [f"execution {state.id}  graph {state.graph_id} v{state.graph_version}  status {state.status}"]
    names = {ne.id: ne.node_id[:8] for ne in state.node_execs.values()}
    for entry in entries:
        offset = (datetime.fromisoformat(entry["time"]) - t0).total_seconds() * 1000
        node = names.get(entry["payload"].get("node_exec_id", ""), "")
        detail = _detail(entry)
        lines.append(f"{offset:9.1f} ms  #{entry['seq']:<4} {entry['type']:<22} {node:<8} {detail}".rstrip())
    lines.append("node durations:")
    for ne in sorted(state.node_execs.values(), key=lambda n: n.added_seq):
        if ne.start_time and ne.end_time:
            took = (ne.end_time - ne.start_time).total_seconds() * 1000
            lines.append(f"  {ne.node_id[:8]} {ne.block_id[:8]} {ne.status:<10} {took:9.1f} ms")
        else:
            lines.append(f"  {ne.node_id[:8]} {ne.block_id[:8]} {ne.status:<10}")
    return lines


def _detail(entry: dict[str, Any]) -> str:
    payload = entry["payload"]
    if entry["type"] in ("NodeOutput", "NodeInputAdded"):
        return f"{payload.get('pin')}={_short(payload.get('value'))}"
    if entry["type"] == "NodeFailed":
        return f"error={_short(payload.get('error'))}"
    if entry["type"] in ("ExecutionFailed",):
        return f"error={_short(payload.get('error'))}"
    return ""


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
