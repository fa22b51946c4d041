"""Runs the real ExecutionRunner against an in-memory event sink (no I/O): for planner tests.

Built from schemas, domain and executor code only, so these unit tests never load the command
side: the graph goes through the domain rules and is stored as a ``GraphVersionBody`` here.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from schemas.events.executions import ExecutionQueued
from schemas.graph import BaseGraph, GraphInput
from services.domain.blocks.base import RunContext
from services.domain.executions.state import ExecutionState
from services.domain.executions.views import execution_with_nodes
from services.domain.graphs import rules
from services.domain.graphs.model import to_version_body
from services.executor.runner import ExecutionRunner
from tests.unit.fakes import MemoryKeyValueStore


class MemoryWriter:
    def __init__(self) -> None:
        self.events: list[tuple[int, Any]] = []

    def write(self, stream_id, first_version, events, user_id):
        for i, (event, _at) in enumerate(events):
            self.events.append((first_version + i, event))
        future = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


def build_graph(nodes: list[dict], links: list[dict]):
    graph = GraphInput.model_validate({"nodes": nodes, "links": links})
    graph = rules.validate_graph(rules.reassign_ids(graph, user_id="u", reassign_graph_id=True), for_run=False)
    return to_version_body(graph, 1), {old["id"]: new.id for old, new in zip(nodes, graph.nodes)}


def queued_state(body, inputs: dict | None = None) -> ExecutionState:
    state = ExecutionState(str(uuid.uuid4()))
    state.apply(ExecutionQueued(user_id="u", graph_id=body.id, graph_version=1, graph=body, inputs=inputs or {}))
    return state


async def run_graph(body, inputs: dict | None = None, *, node_timeout_s: float = 30.0,
                    max_node_executions: int = 1000, kv=None) -> tuple[dict, MemoryWriter]:
    state = queued_state(body, inputs)
    writer = MemoryWriter()
    kv = kv or MemoryKeyValueStore()
    runner = ExecutionRunner(state, writer, context_factory=lambda s, ne: RunContext(
        user_id=s.user_id, graph_id=s.graph_id, graph_exec_id=s.id, node_id=ne.node_id, node_exec_id=ne.id,
        kv_store=kv), node_timeout_s=node_timeout_s, max_node_executions=max_node_executions)
    await runner.run()
    return execution_with_nodes(state), writer


def nodes_of(result: dict, node_id: str) -> list[dict]:
    return [ne for ne in result["node_executions"] if ne["node_id"] == node_id]


__all__ = ["BaseGraph", "build_graph", "nodes_of", "queued_state", "run_graph"]
