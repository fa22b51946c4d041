"""Focused tests for the AgentExecutor block: a sub-graph run through the context's child runner."""

from __future__ import annotations

from services.blocks.agent import AgentExecutorBlock
from services.domain.blocks.base import RunContext
from tests.unit.block_runner import run

# -- sub-agents --------------------------------------------------------------------------------


class FakeChildRunner:
    def __init__(self, outputs):
        self.outputs = outputs
        self.calls = []

    async def run_child(self, *, graph_id, graph_version, inputs):
        self.calls.append((graph_id, graph_version, inputs))
        for pair in self.outputs:
            yield pair


AGENT_NODE = {
    "user_id": "u1",
    "graph_id": "child",
    "graph_version": 3,
    "inputs": {"question": "why?"},
    "input_schema": {"type": "object", "properties": {"question": {}, "style": {}}, "required": ["question", "style"]},
    "output_schema": {"type": "object", "properties": {"answer": {}, "sources": {}}},
}


def test_agent_executor_streams_child_outputs():
    runner = FakeChildRunner([("answer", "because"), ("sources", "a"), ("sources", "b")])
    out = run(AgentExecutorBlock, AGENT_NODE, RunContext(child_runner=runner))
    assert out == [("answer", "because"), ("sources", "a"), ("sources", "b")]
    assert runner.calls == [("child", 3, {"question": "why?"})]


def test_agent_executor_without_runner_and_node_pins():
    assert run(AgentExecutorBlock, AGENT_NODE) == [("error", "sub-graph execution is not available here")]
    assert AgentExecutorBlock.node_pins(AGENT_NODE) == ({"question", "style"}, {"answer", "sources"})
    assert AgentExecutorBlock.node_pins({}) == (set(), set())
    assert AgentExecutorBlock.node_input_defaults(AGENT_NODE) == {"question": "why?"}
    assert AgentExecutorBlock.node_missing_inputs(AGENT_NODE, {"question": "q"}) == {"style"}
    assert AgentExecutorBlock.to_dict()["uiType"] == "Agent"
