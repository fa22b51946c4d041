"""Two runs compared node by node (pure; callers fold the states).

Node executions are aligned by node id and, within one node id, by execution order: the k-th
execution of node X in run a pairs with the k-th of node X in run b, because a node that runs
several times (a loop, a fan-out) has no other identity that survives into another run. An
execution with no partner is shown against ``None``.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import zip_longest
from typing import Any

from services.domain.executions.state import ExecutionState, NodeExec

# What counts as a change, in the order ``changed`` names them. Duration is reported but never
# counted: two runs never take exactly as long, so it would mark every node as changed.
COMPARED = ("status", "input_data", "output_data", "cost", "error")


def execution_diff(a: ExecutionState, b: ExecutionState) -> dict[str, Any]:
    """``{a, b, nodes, changed_nodes, summary}``: every aligned pair of node executions, which of
    ``COMPARED`` differ in each, and the counts."""
    runs_a, runs_b = _by_node(a.node_execs.values()), _by_node(b.node_execs.values())
    order = [*runs_a, *(node_id for node_id in runs_b if node_id not in runs_a)]
    nodes = [_pair(ne_a, ne_b) for node_id in order
             for ne_a, ne_b in zip_longest(runs_a.get(node_id, []), runs_b.get(node_id, []))]
    return {"a": _run(a), "b": _run(b), "nodes": nodes, "changed_nodes": _changed_nodes(nodes),
            "summary": _summary(nodes)}


def _order(ne: NodeExec) -> tuple[int, int, int]:
    """Execution order: queued ones by when they were queued (the fold's counter), then the ones
    never queued (still waiting for inputs) by when their first input arrived."""
    if ne.queued_seq is None:
        return (1, ne.added_seq, 0)
    return (0, ne.queued_seq, ne.added_seq)


def _by_node(execs: Iterable[NodeExec]) -> dict[str, list[NodeExec]]:
    """Node id -> its executions in execution order; the dict's order is each node's first execution."""
    grouped: dict[str, list[NodeExec]] = {}
    for ne in sorted(execs, key=_order):
        grouped.setdefault(ne.node_id, []).append(ne)
    return grouped


def _cost(ne: NodeExec) -> int:
    return int(ne.stats.get("cost", 0))


def _run(state: ExecutionState) -> dict[str, Any]:
    """The run's identity and cost: its final stats once it ended (they include what its sub-graph
    runs cost), else what its nodes have spent so far."""
    cost = state.stats.cost if state.stats is not None else sum(_cost(ne) for ne in state.node_execs.values())
    return {"id": state.id, "graph_id": state.graph_id, "graph_version": state.graph_version,
            "status": str(state.status), "cost": cost}


def _side(ne: NodeExec | None) -> dict[str, Any] | None:
    if ne is None:
        return None
    duration = (ne.end_time - ne.start_time).total_seconds() if ne.start_time and ne.end_time else None
    return {"node_exec_id": ne.id, "status": str(ne.status), "input_data": ne.input_data,
            "output_data": ne.output_data(), "cost": _cost(ne), "duration_s": duration, "error": ne.error}


def _pair(ne_a: NodeExec | None, ne_b: NodeExec | None) -> dict[str, Any]:
    """One aligned pair; a side without a partner differs in everything compared."""
    either = ne_a or ne_b
    assert either is not None  # zip_longest never pairs two missing sides
    side_a, side_b = _side(ne_a), _side(ne_b)
    if side_a is None or side_b is None:
        changed = list(COMPARED)
    else:
        changed = [name for name in COMPARED if not same_json(side_a[name], side_b[name])]
    return {"node_id": either.node_id, "block_id": either.block_id, "a": side_a, "b": side_b, "changed": changed}


def same_json(x: Any, y: Any) -> bool:
    """Equal as JSON values: Python's ``==`` would call ``True`` and ``1``, or ``1`` and ``1.0``,
    the same, yet a block sees them as different inputs."""
    if type(x) is not type(y):
        return False
    if isinstance(x, dict):
        return x.keys() == y.keys() and all(same_json(x[key], y[key]) for key in x)
    if isinstance(x, list | tuple):
        return len(x) == len(y) and all(same_json(i, j) for i, j in zip(x, y, strict=True))
    return x == y


def _changed_nodes(nodes: list[dict[str, Any]]) -> list[str]:
    """Each node id with at least one changed pair, once, in ``nodes`` order."""
    return list(dict.fromkeys(pair["node_id"] for pair in nodes if pair["changed"]))


def _summary(nodes: list[dict[str, Any]]) -> dict[str, int]:
    """Pair counts; an unpaired execution counts as only-in-a or only-in-b, not as changed."""
    counts = {"same": 0, "changed": 0, "only_in_a": 0, "only_in_b": 0}
    for pair in nodes:
        if pair["b"] is None:
            counts["only_in_a"] += 1
        elif pair["a"] is None:
            counts["only_in_b"] += 1
        else:
            counts["changed" if pair["changed"] else "same"] += 1
    return counts
