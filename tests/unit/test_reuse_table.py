"""What a retry or fork takes over (``domain/executions/reuse.py``)."""

from datetime import UTC, datetime

from schemas.events.executions import NodeCompleted, NodeFailed, NodeOutput, NodeQueued, NodeStarted
from services.domain.executions.reuse import REUSED_FROM, ReuseTable, input_key
from services.domain.executions.state import ExecutionState

AT = datetime(2026, 12, 1, tzinfo=UTC)


def _run(nodes):
    """nodes: [(node_exec_id, block_id, input_data, outputs, ok)] in execution order."""
    events = []
    for ne_id, block, data, outputs, ok in nodes:
        events += [NodeQueued(node_exec_id=ne_id, node_id="n-" + ne_id, block_id=block, input_data=data),
                   NodeStarted(node_exec_id=ne_id)]
        events += [NodeOutput(node_exec_id=ne_id, pin=p, value=v, seq=i) for i, (p, v) in enumerate(outputs)]
        events.append(NodeCompleted(node_exec_id=ne_id) if ok else NodeFailed(node_exec_id=ne_id, error="x"))
    return ExecutionState.from_events("src", ((e, AT) for e in events))


def test_only_completed_work_with_the_same_block_and_inputs_is_taken_over_in_the_order_it_ran():
    source = _run([("a1", "calc", {"a": 1}, [("result", 2)], True),
                   ("a2", "calc", {"a": 1}, [("result", 2)], True),   # the same work again (a loop)
                   ("f", "calc", {"a": 9}, [], False)])
    table = ReuseTable(source)
    assert table.take("calc", {"a": 1}).id == "a1"
    assert table.take("calc", {"a": 1}).id == "a2"
    assert table.take("calc", {"a": 1}) is None  # each recorded execution is taken over once
    assert table.take("calc", {"a": 9}) is None  # failed: runs again
    assert table.take("other", {"a": 1}) is None  # another block with the same inputs is other work


def test_a_resumed_branch_does_not_take_over_the_same_work_twice():
    source = _run([("a1", "calc", {"a": 1}, [("result", 2)], True), ("a2", "calc", {"a": 1}, [("result", 2)], True)])
    branch = _run([("b1", "calc", {"a": 1}, [("result", 2)], True)])
    branch.node_execs["b1"].stats = {REUSED_FROM: "a1"}
    assert ReuseTable(source, branch).take("calc", {"a": 1}).id == "a2"


def test_the_key_ignores_key_order_but_not_values():
    assert input_key("b", {"x": 1, "y": [1, 2]}) == input_key("b", {"y": [1, 2], "x": 1})
    assert input_key("b", {"x": 1}) != input_key("b", {"x": 1.5})
    assert input_key("b", None) == input_key("b", {})
