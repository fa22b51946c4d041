"""AgentExecutorBlock: run another graph (a sub-agent) as one node of this graph.

The block itself knows nothing about executions, queues or events: it hands the sub-graph reference
and the resolved inputs to the ``ChildRunner`` port (``ctx.child_runner``), which starts a separate
child graph execution and streams back ``(output_name, value)`` for every value the child's output
blocks record. The block re-yields those as its own outputs, so its output pins are the sub-graph's
output names.

Because of that, the pins of an AGENT node are not in the block's pydantic schemas. They come from
the node's ``input_default``: the sub-graph's input JSON schema (``input_schema.properties``) and
output JSON schema (``output_schema.properties``), as in AutoGPT. Graph validation asks
``AgentExecutorBlock.node_pins(input_default)`` instead of the block schema for such nodes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from services.domain.blocks.base import (
    Block,
    BlockCategory,
    BlockSchemaInput,
    BlockSchemaOutput,
    BlockType,
    ChildRunner,
    RunContext,
    SchemaField,
)
from services.domain.graphs.rules import AGENT_EXECUTOR_BLOCK_ID


def _schema_properties(schema: Any) -> set[str]:
    if not isinstance(schema, Mapping):
        return set()
    properties = schema.get("properties")
    return set(properties) if isinstance(properties, Mapping) else set()


class _ExampleChildRunner:
    """A child runner for the block's own example: echoes the inputs back as upper-cased outputs."""

    async def run_child(self, *, graph_id: str, graph_version: int,
                        inputs: dict[str, Any]) -> AsyncIterator[tuple[str, Any]]:
        for name, value in inputs.items():
            yield f"{name}_out", str(value).upper()


class AgentExecutorBlock(Block):
    id = AGENT_EXECUTOR_BLOCK_ID
    description = "Executes an existing agent inside your agent."
    categories = frozenset({BlockCategory.AGENT})
    block_type = BlockType.AGENT

    class Input(BlockSchemaInput):
        user_id: str = SchemaField(description="The user the sub-graph runs for.")
        graph_id: str = SchemaField(description="The id of the sub-graph.")
        graph_version: int = SchemaField(description="The version of the sub-graph.")
        agent_name: str | None = SchemaField(default=None, description="Name shown for the agent in the builder.")
        inputs: dict[str, Any] = SchemaField(default_factory=dict, description="Input values for the sub-graph.")
        input_schema: dict[str, Any] = SchemaField(
            default_factory=dict, description="The sub-graph's input JSON schema.")
        output_schema: dict[str, Any] = SchemaField(
            default_factory=dict, description="The sub-graph's output JSON schema.")
        nodes_input_masks: dict[str, dict[str, Any]] | None = SchemaField(
            default=None, hidden=True, description="Per-node input overrides for the sub-graph run.")

    class Output(BlockSchemaOutput):
        pass  # dynamic: one pin per output name of the sub-graph

    test_input = {
        "user_id": "test-user",
        "graph_id": "sub-graph",
        "graph_version": 1,
        "inputs": {"topic": "cats", "tone": "calm"},
        "input_schema": {"type": "object", "properties": {"topic": {}, "tone": {}}, "required": ["topic"]},
        "output_schema": {"type": "object", "properties": {"topic_out": {}, "tone_out": {}}},
    }
    test_output = [("topic_out", "CATS"), ("tone_out", "CALM")]
    test_mock = {"_child_runner": lambda ctx: _ExampleChildRunner()}

    # -- pins of AGENT nodes, for graph validation ---------------------------------------------

    @classmethod
    def node_input_pins(cls, input_default: Mapping[str, Any]) -> set[str]:
        """Input pin names of an AGENT node: the sub-graph input schema's properties."""
        return _schema_properties(input_default.get("input_schema"))

    @classmethod
    def node_output_pins(cls, input_default: Mapping[str, Any]) -> set[str]:
        """Output pin names of an AGENT node: the sub-graph output schema's properties."""
        return _schema_properties(input_default.get("output_schema"))

    @classmethod
    def node_pins(cls, input_default: Mapping[str, Any]) -> tuple[set[str], set[str]]:
        return cls.node_input_pins(input_default), cls.node_output_pins(input_default)

    @classmethod
    def node_input_defaults(cls, input_default: Mapping[str, Any]) -> dict[str, Any]:
        """Preset values of the sub-graph inputs; link-supplied pins are merged over these."""
        inputs = input_default.get("inputs")
        return dict(inputs) if isinstance(inputs, Mapping) else {}

    @classmethod
    def node_missing_inputs(cls, input_default: Mapping[str, Any], provided: Mapping[str, Any]) -> set[str]:
        """Required sub-graph inputs (``input_schema.required``) with no value in ``provided``."""
        schema = input_default.get("input_schema")
        required = schema.get("required", []) if isinstance(schema, Mapping) else []
        return {name for name in required if provided.get(name) is None}

    # -- execution ---------------------------------------------------------------------------

    def _child_runner(self, ctx: RunContext) -> ChildRunner | None:
        return ctx.child_runner

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        runner = self._child_runner(ctx)
        if runner is None:
            yield "error", "sub-graph execution is not available here"
            return
        stream = runner.run_child(
            graph_id=input_data.graph_id,
            graph_version=input_data.graph_version,
            inputs=dict(input_data.inputs),
        )
        async for output_name, value in stream:
            yield output_name, value
