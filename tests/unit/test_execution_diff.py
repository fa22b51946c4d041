"""The diff of two runs, node by node (pure): alignment by node id and execution order, what counts
as a change, unpaired executions, and a run diffed with itself."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

from schemas.events.executions import (
    ExecutionCompleted,
    ExecutionQueued,
    ExecutionStarted,
    ExecutionStats,
    NodeCompleted,
    NodeFailed,
    NodeInputAdded,
    NodeOutput,
    NodeQueued,
    NodeStarted,
)
from services.domain.executions.diff import COMPARED, execution_diff
from services.domain.executions.shapes import ExecutionDiff, NodeExecutionDiff
from services.domain.executions.state import ExecutionState
from tests.stories.builders import graph_body

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
BLOCK = "1ff065e9-88e8-4358-9d82-8dc91f622ba9"
GRAPH = uuid.uuid4()


@dataclass
class Ran:
    """One node execution as a test writes it: what it got, what it yielded, how it ended."""

    exec_id: str
    node_id: str
    inputs: dict[str, Any]
    outputs: list[tuple[str, Any]] = field(default_factory=list)
    error: str | None = None
    cost: int = 0
    took_s: float = 1.0


def _node_events(ran: Ran, clock: list[datetime]) -> list[tuple[Any, datetime]]:
    def tick(seconds: float = 0.0) -> datetime:
        clock[0] += timedelta(seconds=seconds)
        return clock[0]

    events: list[tuple[Any, datetime]] = [
        (NodeQueued(node_exec_id=ran.exec_id, node_id=ran.node_id, block_id=BLOCK, input_data=ran.inputs), tick()),
        (NodeStarted(node_exec_id=ran.exec_id), tick())]
    events += [(NodeOutput(node_exec_id=ran.exec_id, pin=pin, value=value, seq=n), tick())
               for n, (pin, value) in enumerate(ran.outputs)]
    end = (NodeFailed(node_exec_id=ran.exec_id, error=ran.error, stats={"cost": ran.cost}) if ran.error
           else NodeCompleted(node_exec_id=ran.exec_id, stats={"cost": ran.cost}))
    events.append((end, tick(ran.took_s)))
    return events


def run(execution_id: str, *nodes: Ran, graph_id: uuid.UUID = GRAPH, waiting: tuple[str, str] | None = None,
        ended: bool = True) -> ExecutionState:
    """A run of ``nodes`` in the given order; ``waiting`` adds a node execution that never got queued."""
    clock = [T0]
    events: list[tuple[Any, datetime]] = [
        (ExecutionQueued(user_id="u", graph_id=str(graph_id), graph_version=1, graph=graph_body(graph_id)), T0),
        (ExecutionStarted(), T0)]
    for ran in nodes:
        events += _node_events(ran, clock)
    if waiting is not None:
        exec_id, node_id = waiting
        events.append((NodeInputAdded(node_exec_id=exec_id, node_id=node_id, block_id=BLOCK, pin="a", value=1,
                                      created=True), clock[0]))
    if ended:
        total = sum(ran.cost for ran in nodes)
        events.append((ExecutionCompleted(stats=ExecutionStats(cost=total, node_exec_count=len(nodes))), clock[0]))
    return ExecutionState.from_events(execution_id, events)


def _pairs(diff: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    return [(pair["node_id"], pair["a"] and pair["a"]["node_exec_id"], pair["b"] and pair["b"]["node_exec_id"])
            for pair in diff["nodes"]]


def test_nodes_pair_by_node_id_and_only_what_differs_is_named():
    a = run("run-a", Ran("a1", "in", {"value": "Hello"}, [("result", "Hello")], cost=1),
            Ran("a2", "tmpl", {"a": "Hello"}, [("output", "Hello!")], cost=2),
            Ran("a3", "out", {"value": "fixed"}, [("output", "fixed")]))
    b = run("run-b", Ran("b1", "in", {"value": "Bye"}, [("result", "Bye")], cost=1),
            Ran("b2", "tmpl", {"a": "Bye"}, [("output", "Bye!")], cost=3),
            Ran("b3", "out", {"value": "fixed"}, [("output", "fixed")]))
    diff = execution_diff(a, b)
    assert _pairs(diff) == [("in", "a1", "b1"), ("tmpl", "a2", "b2"), ("out", "a3", "b3")]
    changed = {pair["node_id"]: pair["changed"] for pair in diff["nodes"]}
    assert changed == {"in": ["input_data", "output_data"], "tmpl": ["input_data", "output_data", "cost"], "out": []}
    assert diff["changed_nodes"] == ["in", "tmpl"]
    assert diff["summary"] == {"same": 1, "changed": 2, "only_in_a": 0, "only_in_b": 0}
    tmpl = diff["nodes"][1]
    assert tmpl["block_id"] == BLOCK
    assert tmpl["a"] == {"node_exec_id": "a2", "status": "COMPLETED", "input_data": {"a": "Hello"},
                         "output_data": {"output": ["Hello!"]}, "cost": 2, "duration_s": 1.0, "error": None}
    assert tmpl["b"]["cost"] == 3 and tmpl["b"]["output_data"] == {"output": ["Bye!"]}


def test_the_runs_themselves_are_summarised():
    a = run("run-a", Ran("a1", "in", {"value": 1}, cost=4))
    b = run("run-b", Ran("b1", "in", {"value": 1}, cost=4), ended=False)
    diff = execution_diff(a, b)
    assert diff["a"] == {"id": "run-a", "graph_id": str(GRAPH), "graph_version": 1, "status": "COMPLETED", "cost": 4}
    # a run still going has no final stats: its cost is what its nodes spent so far
    assert diff["b"] == {"id": "run-b", "graph_id": str(GRAPH), "graph_version": 1, "status": "RUNNING", "cost": 4}


def test_status_error_and_cost_count_as_changes_but_duration_never_does():
    a = run("run-a", Ran("a1", "n", {"x": 1}, [("out", 1)], cost=1, took_s=1.0))
    b = run("run-b", Ran("b1", "n", {"x": 1}, [("out", 1)], error="boom", cost=0, took_s=5.0))
    pair, = execution_diff(a, b)["nodes"]
    assert pair["changed"] == ["status", "cost", "error"]
    assert (pair["a"]["duration_s"], pair["b"]["duration_s"]) == (1.0, 5.0)
    same_but_slower = run("run-c", Ran("c1", "n", {"x": 1}, [("out", 1)], cost=1, took_s=9.0))
    assert execution_diff(a, same_but_slower)["nodes"][0]["changed"] == []


def test_values_are_compared_by_json_type_not_python_equality():
    a = run("run-a", Ran("a1", "n", {"flag": True, "n": 1}))
    b = run("run-b", Ran("b1", "n", {"flag": 1, "n": 1.0}))
    assert execution_diff(a, b)["nodes"][0]["changed"] == ["input_data"]


def test_the_kth_execution_of_a_node_pairs_with_the_kth_of_the_other_run():
    a = run("run-a", Ran("a1", "loop", {"i": 0}, [("o", 0)]), Ran("a2", "loop", {"i": 1}, [("o", 1)]),
            Ran("a3", "loop", {"i": 2}, [("o", 2)]))
    b = run("run-b", Ran("b1", "loop", {"i": 0}, [("o", 0)]), Ran("b2", "loop", {"i": 9}, [("o", 9)]))
    diff = execution_diff(a, b)
    assert _pairs(diff) == [("loop", "a1", "b1"), ("loop", "a2", "b2"), ("loop", "a3", None)]
    assert [pair["changed"] for pair in diff["nodes"][:2]] == [[], ["input_data", "output_data"]]
    assert diff["changed_nodes"] == ["loop"]  # one name, however many of its executions differ
    assert diff["summary"] == {"same": 1, "changed": 1, "only_in_a": 1, "only_in_b": 0}


def test_executions_order_by_queueing_not_by_when_their_first_input_arrived():
    # b2 got its first input (added) before b1 did, but b1 was queued first: b1 is the first execution
    clock = [T0]
    events = [(ExecutionQueued(user_id="u", graph_id=str(GRAPH), graph_version=1, graph=graph_body(GRAPH)), T0),
              (NodeInputAdded(node_exec_id="b2", node_id="n", block_id=BLOCK, pin="a", value=2, created=True), T0),
              (NodeInputAdded(node_exec_id="b1", node_id="n", block_id=BLOCK, pin="a", value=1, created=True), T0),
              *_node_events(Ran("b1", "n", {"a": 1}), clock), *_node_events(Ran("b2", "n", {"a": 2}), clock)]
    b = ExecutionState.from_events("run-b", events)
    a = run("run-a", Ran("a1", "n", {"a": 1}), Ran("a2", "n", {"a": 2}))
    diff = execution_diff(a, b)
    assert _pairs(diff) == [("n", "a1", "b1"), ("n", "a2", "b2")]
    assert diff["changed_nodes"] == []


def test_unpaired_nodes_show_the_other_side_as_null_and_order_after_run_a():
    a = run("run-a", Ran("a1", "first", {}), Ran("a2", "gone", {}), waiting=("a9", "stuck"))
    b = run("run-b", Ran("b1", "new", {}), Ran("b2", "first", {}), Ran("b3", "newer", {}))
    diff = execution_diff(a, b)
    assert _pairs(diff) == [("first", "a1", "b2"), ("gone", "a2", None), ("stuck", "a9", None),
                            ("new", None, "b1"), ("newer", None, "b3")]
    gone, stuck = diff["nodes"][1], diff["nodes"][2]
    assert gone["b"] is None and gone["changed"] == ["status", "input_data", "output_data", "cost", "error"]
    assert stuck["a"]["status"] == "INCOMPLETE" and stuck["a"]["input_data"] is None
    assert stuck["a"]["duration_s"] is None
    assert diff["changed_nodes"] == ["gone", "stuck", "new", "newer"]
    assert diff["summary"] == {"same": 1, "changed": 0, "only_in_a": 2, "only_in_b": 2}


def test_runs_of_different_graphs_align_nothing():
    a = run("run-a", Ran("a1", "x", {}))
    b = run("run-b", Ran("b1", "y", {}), graph_id=uuid.uuid4())
    diff = execution_diff(a, b)
    assert diff["a"]["graph_id"] != diff["b"]["graph_id"]
    assert diff["summary"] == {"same": 0, "changed": 0, "only_in_a": 1, "only_in_b": 1}


def test_a_run_diffed_with_itself_is_unchanged_everywhere():
    a = run("run-a", Ran("a1", "in", {"v": [1, {"k": None}]}, [("result", {"deep": [1.5, "s"]})], cost=3),
            Ran("a2", "in", {"v": 2}, error="failed", cost=1), waiting=("a3", "w"))
    diff = execution_diff(a, a)
    assert all(pair["changed"] == [] for pair in diff["nodes"])
    assert diff["changed_nodes"] == []
    assert diff["summary"] == {"same": 3, "changed": 0, "only_in_a": 0, "only_in_b": 0}


def test_the_documented_shape_names_exactly_the_compared_fields():
    changed = NodeExecutionDiff.model_fields["changed"].annotation
    assert get_args(get_args(changed)[0]) == COMPARED
    diff = execution_diff(run("run-a", Ran("a1", "n", {})), run("run-b", Ran("b1", "m", {})))
    ExecutionDiff.model_validate(diff)
