"""Static sub-graph recursion check (audit F4): a version whose AgentExecutor nodes lead back to it
is refused when it is saved."""

from types import SimpleNamespace

import pytest

from services.domain.graphs.recursion import check_recursion
from services.domain.graphs.rules import AGENT_EXECUTOR_BLOCK_ID, GraphValidationError


def agent(node_id, graph_id, version):
    return SimpleNamespace(id=node_id, block_id=AGENT_EXECUTOR_BLOCK_ID,
                           input_default={"graph_id": graph_id, "graph_version": version})


def body(graph_id, version, *nodes):
    return SimpleNamespace(id=graph_id, version=version, nodes=list(nodes))


def test_a_version_running_itself_is_refused():
    g2 = body("g", 2, agent("a1", "g", 2), agent("a2", "g", 2))
    with pytest.raises(GraphValidationError) as err:
        check_recursion([g2], lambda *_: None)
    assert "recursion" in err.value.message
    assert set(err.value.node_errors) == {"a1", "a2"}
    assert "runs itself" in err.value.node_errors["a1"]["graph_id"]


def test_a_cycle_through_stored_graphs_is_refused():
    stored = {("x", 1): body("x", 1, agent("xa", "y", 3)), ("y", 3): body("y", 3, agent("ya", "g", 5))}
    with pytest.raises(GraphValidationError) as err:
        check_recursion([body("g", 5, agent("ga", "x", 1))], lambda gid, v: stored.get((gid, v)))
    assert "graph #x v1" in err.value.node_errors["ga"]["graph_id"]


def test_other_versions_of_the_same_graph_and_chains_are_fine():
    stored = {("g", 1): body("g", 1), ("h", 1): body("h", 1, agent("ha", "g", 1))}
    check_recursion([body("g", 2, agent("a", "g", 1), agent("b", "h", 1))], lambda gid, v: stored.get((gid, v)))


def test_a_cycle_among_the_sub_graphs_of_one_create():
    a = body("a", 1, agent("n1", "b", 1))
    b = body("b", 1, agent("n2", "a", 1))
    with pytest.raises(GraphValidationError) as err:
        check_recursion([body("top", 1, agent("n0", "a", 1)), a, b], lambda *_: None)
    assert set(err.value.node_errors) == {"n1", "n2"}  # the top graph only calls into the cycle
