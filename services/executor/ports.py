"""The executor's adapter for child executions (AgentExecutorBlock).

It reaches the store; eventsourcing calls run in worker threads so the event loop keeps running
other nodes meanwhile. A child counts like any run (audit F4): against its user's execute rate
limit and quota, and against its tree's limits (depth, descendants per root execution); while
the parent waits for it, the parent lends its execution slot back (``lender``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any, Protocol

from schemas.events.executions import ExecutionQueued
from schemas.graph import GraphVersionBody
from services.domain.blocks.base import BlockType
from services.domain.blocks.registry import get_block
from services.domain.errors import NotFoundError
from services.domain.executions.state import ExecutionState
from services.domain.executions.status import TERMINAL_STATUSES, ExecutionStatus
from services.domain.graphs.credentials import node_credentials_masks
from services.domain.graphs.graph import Graph
from services.executor.scheduling.limits import (
    MAX_CHILD_DEPTH,
    RunLimitExceeded,
    depth_exceeded,
    descendants_exceeded,
    is_tree_limit,
)
from services.infra.blobs import Refs
from services.infra.eventstore import EventStore
from services.infra.execution_refs import Externaliser
from services.infra.execution_stream import request_stop
from services.infra.publications import Publications
from services.infra.ratelimit import RateLimited, RateLimiter, user_bucket
from services.infra.store_contract import ConcurrencyConflict, NewEvent

CHILD_NAMESPACE = uuid.UUID("0b5e6a52-8a8e-4f0e-9d53-6c3a3f1f2a10")


class SlotLender(Protocol):
    """The parent run's execution slot (``RunLease``): given back while it waits on a child."""

    def lend(self) -> None: ...

    def unlend(self) -> None: ...

    async def reclaim(self) -> None: ...


_COUNT_CHILD = (
    "INSERT INTO executor_descendant_counts (root_execution_id, descendants) VALUES (%s, 1) "
    "ON CONFLICT (root_execution_id) DO UPDATE SET descendants = executor_descendant_counts.descendants + 1, "
    "updated_at = now() RETURNING descendants")
_FORGET_CHILD = "DELETE FROM executor_descendants WHERE root_execution_id = %s AND execution_id = %s"
_UNCOUNT_CHILD = ("UPDATE executor_descendant_counts SET descendants = descendants - 1, updated_at = now() "
                  "WHERE root_execution_id = %s")


class ChildLimits:
    """What a new child execution must pass before it is queued, shared by every executor
    instance through PostgreSQL: the user's execute rate limit (children count like POST
    …/execute) and ``max_descendants`` child executions per root execution."""

    def __init__(self, pool, *, max_descendants: int, rate_limiter: RateLimiter | None = None) -> None:
        self.pool = pool
        self.max_descendants = max_descendants
        self.rate_limiter = rate_limiter

    async def admit(self, user_id: str, root_id: str, child_id: str) -> None:
        """Count the child once (a parent node re-run after a crash between admission and queueing
        finds its row and passes), check the descendant cap, then the rate limit. The rate limit
        is hit after the count commits: it takes a pool connection of its own, and holding one
        here while waiting for another would starve the pool under a burst of children."""
        async with self.pool.connection() as conn:
            async with conn.transaction():
                cur = await conn.execute(
                    "INSERT INTO executor_descendants (root_execution_id, execution_id) VALUES (%s, %s) "
                    "ON CONFLICT DO NOTHING", (root_id, child_id))
                if cur.rowcount == 0:
                    return  # admitted by an earlier attempt of this node
                if self.max_descendants > 0:
                    count = (await (await conn.execute(_COUNT_CHILD, (root_id,))).fetchone())[0]
                    if count > self.max_descendants:
                        raise descendants_exceeded(self.max_descendants)  # rolls both rows back
        if self.rate_limiter is None:
            return
        try:
            await self.rate_limiter.hit(user_bucket(user_id))
        except RateLimited as exc:
            async with self.pool.connection() as conn, conn.transaction():
                await conn.execute(_FORGET_CHILD, (root_id, child_id))
                await conn.execute(_UNCOUNT_CHILD, (root_id,))
            raise ValueError(str(exc)) from None  # fails this node, as a refused execute would


def find_graph_version(store: EventStore, user_id: str, graph_id: str, version: int | None,
                       publications: Publications | None = None) -> GraphVersionBody | None:
    """The caller's own graph version, chosen by the one Graph aggregate (the given version, else the
    active one), or another user's exact version that the store publishes (a store agent's
    sub-agent), or None where the command API would answer 404."""
    try:
        stream = uuid.UUID(graph_id)
    except ValueError:
        return None
    graph = Graph.from_events(graph_id, [recorded.decode() for recorded in store.read_stream(stream)])
    if graph.exists and graph.user_id != user_id and version in graph.versions and publications is not None \
            and publications.is_published(graph_id, version):
        return graph.versions[version]
    try:
        return graph.version(user_id, version)
    except NotFoundError:
        return None


class StoreChildRunner:
    """Runs a sub-graph as a child execution and streams the child's graph outputs.

    The child's id is derived from the parent node execution, so a parent node re-run after a
    crash follows the same child instead of starting another. Outputs come from the child's
    OUTPUT node executions as they finish (their formatted ``output`` pin, named by ``name``).
    A dry run's child is a dry run.
    """

    def __init__(self, executions: EventStore, graphs: EventStore, parent: ExecutionState, node_exec_id: str,
                 stats: dict, poll_s: float = 0.02, *, blobs=None, limits=None,
                 child_limits: ChildLimits | None = None, lender: SlotLender | None = None,
                 publications: Publications | None = None) -> None:
        self.executions = executions
        self.publications = publications  # store agents' sub-agents: exact versions the store publishes
        self.child_limits = child_limits  # rate limit and descendants per root (None: no checks)
        self.lender = lender  # the parent's execution slot, lent while it waits
        self.blobs = blobs  # BlobStore: large child inputs out of line, child outputs resolved
        self.limits = limits
        self.graphs = graphs
        self.parent = parent
        self.node_exec_id = node_exec_id
        self.stats = stats
        self.poll_s = poll_s

    async def run_child(self, *, graph_id: str, graph_version: int,
                        inputs: dict[str, Any]) -> AsyncIterator[tuple[str, Any]]:
        child_id = uuid.uuid5(CHILD_NAMESPACE, self.node_exec_id)
        if not await asyncio.to_thread(self.executions.read_stream, child_id, upto=1):
            await self._admit_child(child_id)  # a child already queued was admitted before
            inputs = await self._inputs_to_record(inputs)
            await asyncio.to_thread(self._queue_child, child_id, graph_id, graph_version, inputs)
        if self.lender is not None:
            self.lender.lend()
        try:
            async for item in self._follow(child_id):
                yield item
        except BaseException:
            if self.lender is not None:
                self.lender.unlend()  # torn down: never waits for a slot here
            await asyncio.shield(asyncio.to_thread(self._stop_child, child_id))
            raise
        if self.lender is not None:
            await self.lender.reclaim()

    async def _admit_child(self, child_id: uuid.UUID) -> None:
        """Tree limits fail the run (``RunLimitExceeded``); the rate limit fails the node."""
        depth, root = await asyncio.to_thread(_ancestry, self.executions, self.parent)
        refused = depth_exceeded(depth)
        if refused is not None:
            raise refused
        if self.child_limits is not None:
            await self.child_limits.admit(self.parent.user_id, root, str(child_id))

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
        body = find_graph_version(self.graphs, self.parent.user_id, graph_id, graph_version, self.publications)
        if body is None:
            raise ValueError(f"Graph #{graph_id} v{graph_version} not found")
        # The parent's run-level credentials reach the sub-graph's nodes the same way (AutoGPT
        # aggregates sub-graph credential fields into the parent's credentials inputs).
        credentials_inputs = dict(self.parent.credentials_inputs or {})
        queued = ExecutionQueued(user_id=self.parent.user_id, graph_id=graph_id, graph_version=body.version,
                                 graph=body, inputs=inputs, credentials_inputs=credentials_inputs,
                                 nodes_input_masks=node_credentials_masks(body, credentials_inputs),
                                 parent_execution_id=self.parent.id,
                                 parent_node_exec_id=self.node_exec_id,
                                 is_dry_run=self.parent.is_dry_run)  # a dry run's children are dry runs
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
                if ne.id in reported or ne.status not in TERMINAL_STATUSES:
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
                if state.status == ExecutionStatus.FAILED and is_tree_limit(state.error):
                    raise RunLimitExceeded(state.error)  # the tree's limit: the parent fails too
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
            if ne.id not in reported and ne.status in TERMINAL_STATUSES and block is not None \
                    and block.block_type == BlockType.OUTPUT:
                for index in range(len(ne.outputs)):
                    refs.pair(ne.outputs, index)
        await refs.resolve(self.blobs, self.parent.user_id)

    def _stop_child(self, child_id: uuid.UUID) -> None:
        request_stop(self.executions, child_id, self.parent.user_id)


def _ancestry(store: EventStore, state: ExecutionState) -> tuple[int, str]:
    """``(ancestors of this run, its root execution id)``, walking ``parent_execution_id`` up."""
    depth, root, parent = 0, state.id, state.parent_execution_id
    while parent and depth <= MAX_CHILD_DEPTH:
        root = parent
        first = store.read_stream(uuid.UUID(parent), upto=1)
        depth += 1
        if not first:
            break
        parent = first[0].payload.get("parent_execution_id")
    return depth, root
