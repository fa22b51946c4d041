"""Sub-graph recursion (audit F4): a version being saved whose AgentExecutor nodes lead back to it
is refused, so no graph can start itself over and over."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.domain.graphs.rules import AGENT_EXECUTOR_BLOCK_ID, GraphValidationError

MAX_RECURSION_LOOKUPS = 200


def agent_targets(graph: Any) -> list[tuple[Any, tuple[str, int]]]:
    """``(node, (graph_id, graph_version))`` for every AgentExecutor node with a static reference."""
    found = []
    for node in graph.nodes:
        target = (node.input_default.get("graph_id"), node.input_default.get("graph_version"))
        if node.block_id == AGENT_EXECUTOR_BLOCK_ID and isinstance(target[0], str) \
                and isinstance(target[1], int) and not isinstance(target[1], bool):
            found.append((node, target))
    return found


def check_recursion(bodies: list[Any], lookup: Callable[[str, int], Any | None]) -> None:
    """Refuse versions being saved whose AgentExecutor nodes lead back to them, directly or
    through other graphs (``lookup(graph_id, version)``: a stored version of the same user, or
    None). A run of such a graph would start itself until a run-time limit stops it; every cycle
    is seen here when its last member is saved, since each edge is checked once both ends exist.
    Lookups are bounded; what lies beyond the bound is left to the run-time limits."""
    new = {(str(b.id), b.version): b for b in bodies}
    stored: dict[tuple[str, int], Any | None] = {}

    def body(key: tuple[str, int]) -> Any | None:
        if key in new:
            return new[key]
        if key not in stored and len(stored) < MAX_RECURSION_LOOKUPS:
            stored[key] = lookup(*key)
        return stored.get(key)

    def leads_to(start: tuple[str, int], goal: tuple[str, int]) -> bool:
        seen, stack = {start}, [start]
        while stack:
            key = stack.pop()
            if key == goal:
                return True
            graph = body(key)
            for _, target in agent_targets(graph) if graph is not None else []:
                if target not in seen:
                    seen.add(target)
                    stack.append(target)
        return False

    node_errors: dict[str, dict[str, str]] = {}
    for key, graph in new.items():
        for node, target in agent_targets(graph):
            if leads_to(target, key):
                how = "itself" if target == key else f"graph #{target[0]} v{target[1]}, which runs it again"
                node_errors[node.id] = {"graph_id": f"Sub-graph recursion: this node runs {how}"}
    if node_errors:
        raise GraphValidationError(
            f"Graph validation failed: {len(node_errors)} AgentExecutor nodes would run their own graph "
            "again (sub-graph recursion is not allowed)", node_errors)
