"""What the command side checks before an execution may be queued (pure)."""

from __future__ import annotations

from typing import Any

from schemas.graph import GraphVersionBody
from services.domain.graphs import io_schema, rules

NO_STARTING_NODES = ("No starting nodes found for the graph, make sure an AgentInput or blocks with no "
                     "inbound links are present as starting nodes.")


class NoStartingNodes(ValueError):
    pass


def prepare_run(body: GraphVersionBody, nodes_input_masks: dict[str, dict[str, Any]] | None = None) -> GraphVersionBody:
    """Validate for a run (AutoGPT's ``for_run=True``) and require a starting node."""
    checked = rules.validate_graph(body, for_run=True, nodes_input_masks=nodes_input_masks)
    if not io_schema.starting_nodes(checked):
        raise NoStartingNodes(NO_STARTING_NODES)
    return checked
