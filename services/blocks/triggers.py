"""Trigger blocks (AutoGPT ids): the node a webhook delivery starts a run at.

A trigger node has no incoming links, so it is a starting node; its ``payload`` comes from the
delivery, laid over the node's input by the run's ``nodes_input_masks`` (AutoGPT's rule:
``{trigger_node_id: {**preset.inputs, "payload": payload}}``). A graph holding one cannot be run
directly without a payload (``services.domain.integrations.triggers``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from services.domain.blocks.base import (
    Block,
    BlockCategory,
    BlockSchemaInput,
    BlockSchemaOutput,
    BlockType,
    RunContext,
    SchemaField,
)


class GenericWebhookTriggerBlock(Block):
    """Starts a run with whatever JSON object the sender posted to the webhook's ingress URL.

    Manual: the user gives the URL and secret to the sender themselves (nothing is registered with
    a provider). ``constants`` are fixed values saved with the trigger, passed along beside the
    payload so downstream nodes can tell triggers apart.
    """

    id = "8fa8c167-2002-47ce-aba8-97572fc5d387"
    description = "Starts the agent when its webhook receives a JSON object, and outputs that object."
    categories = frozenset({BlockCategory.INPUT})
    block_type = BlockType.WEBHOOK_MANUAL

    class Input(BlockSchemaInput):
        payload: dict[str, Any] = SchemaField(default_factory=dict, hidden=True,
                                              description="The JSON object the webhook delivered.")
        constants: dict[str, Any] = SchemaField(
            default_factory=dict, description="Fixed values saved with the trigger, output with every payload.")

    class Output(BlockSchemaOutput):
        payload: dict[str, Any] = SchemaField(description="The whole JSON object the webhook received.")
        constants: dict[str, Any] = SchemaField(description="The trigger's fixed values, as saved.")

    test_input = {"constants": {"key": "value"}, "payload": {"message": "Hello, World!"}}
    test_output = [("constants", {"key": "value"}), ("payload", {"message": "Hello, World!"})]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        yield "constants", input_data.constants
        yield "payload", input_data.payload
