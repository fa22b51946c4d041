"""The executor's adapter for child executions (AgentExecutorBlock).

It reaches the store; eventsourcing calls run in worker threads so the event loop keeps running
other nodes meanwhile.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, AsyncIterator

from schemas.events.executions import ExecutionQueued
from services.common.graphs.credentials import node_credentials_masks
from schemas.events.graphs import GraphCreated, GraphDeleted, GraphVersionCreated
from schemas.graph import GraphVersionBody
from services.common.blocks.base import BlockType
from services.common.blocks.registry import get_block
from services.common.eventstore import ConcurrencyConflict, EventStore, NewEvent
from services.common.blobs import Refs
from services.common.executions.refs import Externaliser
from services.common.executions.state import NODE_DONE, ExecutionState
from services.common.executions.stream import request_stop

CHILD_NAMESPACE = uuid.UUID("0b5e6a52-8a8e-4f0e-9d53-6c3a3f1f2a10")
MAX_CHILD_DEPTH = 10


def find_graph_version(store: EventStore, user_id: str, graph_id: str, version: int | None) -> GraphVersionBody | None:
    """The caller's own graph version (newest if ``version`` is None), folded from its stream."""
    try:
        stream = uuid.UUID(graph_id)
    except ValueError:
        return None
    owner, versions = None, {}
    for recorded in store.read_stream(stream):
        event = recorded.decode()
        if isinstance(event, GraphCreated):
            owner = event.user_id
            versions[event.graph.version] = event.graph
        elif isinstance(event, GraphVersionCreated):
            versions[event.graph.version] = event.graph
        elif isinstance(event, GraphDeleted):
            return None
    if owner != user_id or not versions:
        return None
    return versions.get(version if version is not None else max(versions))


class StoreChildRunner:
    """Runs a sub-graph as a child execution and streams the child's graph outputs.

    The child's id is derived from the parent node execution, so a parent node re-run after a
    crash follows the same child instead of starting another. Outputs come from the child's
    OUTPUT node executions as they finish (their formatted ``output`` pin, named by ``name``).
    """

    def __init__(self, executions: EventStore, graphs: EventStore, parent: ExecutionState, node_exec_id: str,
                 stats: dict, poll_s: float = 0.02, *, blobs=None, limits=None) -> None:
        self.executions = executions
        self.blobs = blobs  # BlobStore: large child inputs out of line, child outputs resolved
        self.limits = limits
        self.graphs = graphs
        self.parent = parent
        self.node_exec_id = node_exec_id
        self.stats = stats
        self.poll_s = poll_s

    async def run_child(self, *, graph_id: str, graph_version: int, inputs: dict[str, Any]) -> AsyncIterator[tuple[str, Any]]:
        child_id = uuid.uuid5(CHILD_NAMESPACE, self.node_exec_id)
        inputs = await self._inputs_to_record(inputs)
        await asyncio.to_thread(self._queue_child, child_id, graph_id, graph_version, inputs)
        try:
            async for item in self._follow(child_id):
                yield item
        except BaseException:
            await asyncio.shield(asyncio.to_thread(self._stop_child, child_id))
            raise

    async def _inputs_to_record(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """The child's ExecutionQueued carries large inputs as blob references (written first)."""
        if self.blobs is None or self.limits is None or not inputs:
            return inputs
        externaliser = Externaliser(inline_bytes=self.limits.inline_value_bytes,
                                    max_event_bytes=self.limits.max_event_bytes)
        pending: dict[str, bytes] = {}
        recorded = externaliser.values(inputs, pending)
        await self.blobs.put(self.parent.user_id, pending)
        return recorded

    def _queue_child(self, child_id: uuid.UUID, graph_id: str, graph_version: int, inputs: dict[str, Any]) -> None:
        if self.executions.read_stream(child_id, upto=1):
            return  # already queued by an earlier attempt of this node
        if _depth(self.executions, self.parent) >= MAX_CHILD_DEPTH:
            raise ValueError(f"sub-graphs nested deeper than {MAX_CHILD_DEPTH} levels")
        body = find_graph_version(self.graphs, self.parent.user_id, graph_id, graph_version)
        if body is None:
            raise ValueError(f"Graph #{graph_id} v{graph_version} not found")
        # The parent's run-level credentials reach the sub-graph's nodes the same way (AutoGPT
        # aggregates sub-graph credential fields into the parent's credentials inputs).
        credentials_inputs = dict(self.parent.credentials_inputs or {})
        queued = ExecutionQueued(user_id=self.parent.user_id, graph_id=graph_id, graph_version=body.version,
                                 graph=body, inputs=inputs, credentials_inputs=credentials_inputs,
                                 nodes_input_masks=node_credentials_masks(body, credentials_inputs),
                                 parent_execution_id=self.parent.id,
                                 parent_node_exec_id=self.node_exec_id)
        try:
            self.executions.append([NewEvent(child_id, 1, queued, user_id=self.parent.user_id)])
        except ConcurrencyConflict:
            pass

    async def _follow(self, child_id: uuid.UUID) -> AsyncIterator[tuple[str, Any]]:
        state = ExecutionState(str(child_id))
        reported: set[str] = set()
        delay = self.poll_s
        while True:
            recorded = await asyncio.to_thread(self.executions.read_stream, child_id, after=state.version)
            for item in recorded:
                state.apply(item.decode(), item.occurred_at)
            await self._resolve_outputs(state, reported)
            for ne in state.node_execs.values():
                if ne.id in reported or ne.status not in NODE_DONE:
                    continue
                reported.add(ne.id)
                block = get_block(ne.block_id)
                if block is not None and block.block_type == BlockType.OUTPUT and ne.input_data:
                    for pin, value in ne.outputs:
                        if pin == "output":
                            yield ne.input_data.get("name"), value
            if state.is_terminal:
                if state.stats is not None:
                    self.stats["extra_cost"] = state.stats.cost
                    self.stats["extra_steps"] = state.stats.node_exec_count
                return
            delay = self.poll_s if recorded else min(delay * 1.5, 0.25)
            await asyncio.sleep(delay)

    async def _resolve_outputs(self, state: ExecutionState, reported: set[str]) -> None:
        """Real values for the outputs about to be reported (the child's events hold references)."""
        if self.blobs is None:
            return
        refs = Refs()
        for ne in state.node_execs.values():
            block = get_block(ne.block_id)
            if ne.id not in reported and ne.status in NODE_DONE and block is not None \
                    and block.block_type == BlockType.OUTPUT:
                for index in range(len(ne.outputs)):
                    refs.pair(ne.outputs, index)
        await refs.resolve(self.blobs, self.parent.user_id)

    def _stop_child(self, child_id: uuid.UUID) -> None:
        request_stop(self.executions, child_id, self.parent.user_id)


def _depth(store: EventStore, state: ExecutionState) -> int:
    depth, parent = 0, state.parent_execution_id
    while parent and depth < MAX_CHILD_DEPTH:
        first = store.read_stream(uuid.UUID(parent), upto=1)
        if not first:
            break
        parent = first[0].payload.get("parent_execution_id")
        depth += 1
    return depth
