"""A graph's trigger node and the rule that keeps triggered graphs from running without a delivery (pure).

The trigger node is the first node whose block is a webhook (``WEBHOOK`` or ``WEBHOOK_MANUAL``),
AutoGPT's ``graph.webhook_input_node``. A run of such a graph must carry a ``payload`` for that
node, which only a delivery gives (in ``nodes_input_masks``); AutoGPT refuses it otherwise with the
message below, which clients show as it is.
"""

from __future__ import annotations

from typing import Any

from services.domain.blocks.base import BlockType
from services.domain.blocks.registry import get_block
from services.domain.errors import InvalidCommand

TRIGGER_TYPES = (BlockType.WEBHOOK, BlockType.WEBHOOK_MANUAL)
TRIGGERED_DIRECTLY = ("This agent is triggered by an external event (webhook) and cannot be executed directly. "
                      "Please use the appropriate trigger to run this agent.")


def trigger_node(graph: Any) -> Any | None:
    """The graph's first webhook node, or None."""
    for node in graph.nodes:
        block = get_block(node.block_id)
        if block is not None and block.block_type in TRIGGER_TYPES:
            return node
    return None


def require_delivery(graph: Any, nodes_input_masks: dict[str, dict[str, Any]] | None) -> None:
    """Refuse (400) a run of a triggered graph whose trigger node gets no payload."""
    node = trigger_node(graph)
    if node is None:
        return
    given = {**node.input_default, **((nodes_input_masks or {}).get(node.id) or {})}
    if "payload" not in given:
        raise InvalidCommand(TRIGGERED_DIRECTLY)
