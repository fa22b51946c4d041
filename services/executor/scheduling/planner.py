"""The pure planner: AutoGPT's rules for when a node execution becomes ready, as events.

Given the folded ``ExecutionState``, each decision emits events and applies them to the state at
once (so the next decision sees them). The I/O shell records the emitted events and runs the
blocks of newly queued node executions. Rules (COMPAT §2.5):

- each value on an input pin joins the earliest waiting execution of that node lacking the pin,
  else opens a new one: successive values on one pin form a FIFO of node executions;
- every linked pin waits for link data (defaults never satisfy a linked pin);
- static links reuse the latest value, and a new static value releases every waiting execution;
- dynamic pins (``_#_``, ``_$_``, ``_@_``) are assembled, keeping the flattened keys.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from schemas.events.base import Event
from schemas.events.executions import (
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionPausedForReview,
    ExecutionStarted,
    ExecutionStats,
    ExecutionTerminated,
    NodeCompleted,
    NodeEffectBegun,
    NodeFailed,
    NodeInputAdded,
    NodeOutput,
    NodeQueued,
    NodeReviewRequested,
    NodeStarted,
    NodeTerminated,
)
from services.domain.blocks.base import Block, BlockType
from services.domain.blocks.registry import get_block
from services.domain.executions.state import ExecutionState, NodeExec
from services.domain.executions.status import OPEN_STATUSES, TERMINAL_STATUSES, ExecutionStatus
from services.domain.graphs import io_schema
from services.domain.graphs.pins import merge_execution_input, parse_execution_output


def _now() -> datetime:
    return datetime.now(UTC)


class GraphIndex:
    """Nodes, their blocks and their links, indexed for routing."""

    def __init__(self, graph) -> None:
        self.graph = graph
        self.nodes = {n.id: n for n in graph.nodes}
        self.blocks: dict[str, type[Block] | None] = {n.id: get_block(n.block_id) for n in graph.nodes}
        self.out_links: dict[str, list] = defaultdict(list)
        self.in_links: dict[str, list] = defaultdict(list)
        for link in graph.links:
            self.out_links[link.source_id].append(link)
            self.in_links[link.sink_id].append(link)

    def block_type(self, node_id: str) -> BlockType | None:
        block = self.blocks.get(node_id)
        return block.block_type if block else None


class Planner:
    def __init__(self, state: ExecutionState, *, max_node_executions: int,
                 id_factory: Callable[[], str] = lambda: str(uuid.uuid4()),
                 clock: Callable[[], datetime] = _now) -> None:
        assert state.graph is not None, "an execution without ExecutionQueued cannot be planned"
        self.state = state
        self.index = GraphIndex(state.graph)
        self.max_node_executions = max_node_executions
        self.new_id = id_factory
        self.clock = clock
        self.emitted: list[tuple[Event, datetime]] = []
        self.cap_exceeded = False

    def emit(self, event: Event) -> None:
        at = self.clock()
        self.state.apply(event, at)
        self.emitted.append((event, at))

    def take(self) -> list[tuple[Event, datetime]]:
        taken, self.emitted = self.emitted, []
        return taken

    # -- start ---------------------------------------------------------------------------------

    def start(self) -> list[str]:
        """Record the start and queue every starting node; returns the queued node exec ids."""
        self.emit(ExecutionStarted())
        queued = []
        for node in io_schema.starting_nodes(self.state.graph):
            pins: dict[str, Any] = {}
            name = node.input_default.get("name")
            if self.index.block_type(node.id) == BlockType.INPUT and isinstance(name, str) \
                    and name in self.state.inputs:
                pins["value"] = self.state.inputs[name]
            _, data = self.resolve(node.id, pins, check_links=False)
            if self._under_cap():
                ne_id = self.new_id()
                self.emit(NodeQueued(node_exec_id=ne_id, node_id=node.id, block_id=node.block_id, input_data=data))
                queued.append(ne_id)
        return queued

    # -- readiness -----------------------------------------------------------------------------

    def resolve(self, node_id: str, pins: dict[str, Any], *, check_links: bool = True) -> tuple[str | None, dict]:
        """``(why_not_ready or None, resolved input)`` for a node given its link values."""
        node = self.index.nodes[node_id]
        block = self.index.blocks[node_id]
        if check_links:
            for link in self.index.in_links[node_id]:
                if link.sink_name not in pins:
                    return f"waiting for {link.sink_name}", {}
        pins = {**pins, **(self.state.nodes_input_masks.get(node_id) or {})}
        if block is None:
            return None, {**node.input_default, **pins}
        if block.block_type == BlockType.AGENT:
            return self._resolve_agent(node, pins)
        data = merge_execution_input({**node.input_default, **pins})
        present = {k for k, v in data.items() if v is not None}
        missing = sorted(block.required_inputs() - present - {"credentials"})
        if missing:
            return f"missing input {missing}", data
        try:
            block.Input.model_validate({k: v for k, v in data.items() if v is not None})
        except ValidationError as exc:
            return f"input mismatch: {exc.errors()[0].get('msg')}", data
        return None, data

    def _resolve_agent(self, node, pins: dict[str, Any]) -> tuple[str | None, dict]:
        defaults = node.input_default.get("inputs") or {}
        data = merge_execution_input({**defaults, **pins})
        schema = node.input_default.get("input_schema") or {}
        missing = [name for name in schema.get("required", []) if data.get(name) is None]
        return (f"missing input {missing}" if missing else None), data

    def _under_cap(self) -> bool:
        queued = sum(1 for ne in self.state.node_execs.values() if ne.queued_seq is not None)
        if queued >= self.max_node_executions:
            self.cap_exceeded = True
            return False
        return True

    def _latest_input(self, node_id: str, pin: str) -> tuple[bool, Any]:
        latest = None
        for ne in self.state.execs_of(node_id):
            if ne.queued_seq is not None and ne.input_data is not None and pin in ne.input_data:
                if latest is None or ne.queued_seq > latest.queued_seq:
                    latest = ne
        return (True, latest.input_data[pin]) if latest else (False, None)

    def _try_queue(self, ne: NodeExec, static: tuple[str, Any] | None = None) -> bool:
        pins = dict(ne.pins)
        for link in self.index.in_links[ne.node_id]:
            if link.is_static and link.sink_name not in pins:
                if static is not None and static[0] == link.sink_name:
                    pins[link.sink_name] = static[1]
                else:
                    found, value = self._latest_input(ne.node_id, link.sink_name)
                    if found:
                        pins[link.sink_name] = value
        why_not, data = self.resolve(ne.node_id, pins)
        if why_not is not None or not self._under_cap():
            return False
        self.emit(NodeQueued(node_exec_id=ne.id, node_id=ne.node_id, block_id=ne.block_id, input_data=data))
        return True

    # -- routing -------------------------------------------------------------------------------

    def on_output(self, ne: NodeExec, pin: str, value: Any) -> list[str]:
        """Record one yielded output and route it; returns node execs that became QUEUED."""
        self.emit(NodeOutput(node_exec_id=ne.id, pin=pin, value=value, seq=len(ne.outputs)))
        return self.route(ne.node_id, pin, value)

    def route(self, node_id: str, pin: str, value: Any) -> list[str]:
        queued: list[str] = []
        for link in self.index.out_links[node_id]:
            data = parse_execution_output(pin, value, link.source_name, link.sink_id, link.sink_name)
            if data is None and pin != link.source_name:
                continue
            sink = self.index.nodes.get(link.sink_id)
            if sink is None:
                continue
            target = self._waiting_exec(link.sink_id, link.sink_name)
            created = target is None
            target_id = self.new_id() if created else target.id
            self.emit(NodeInputAdded(node_exec_id=target_id, node_id=sink.id, block_id=sink.block_id,
                                     pin=link.sink_name, value=data, created=created))
            target = self.state.node_execs[target_id]
            if self._try_queue(target):
                queued.append(target.id)
            if link.is_static:
                for waiting in self._incomplete(link.sink_id):
                    if self._try_queue(waiting, static=(link.sink_name, data)):
                        queued.append(waiting.id)
        return queued

    def _incomplete(self, node_id: str) -> list[NodeExec]:
        return sorted((ne for ne in self.state.execs_of(node_id) if ne.status == ExecutionStatus.INCOMPLETE),
                      key=lambda ne: ne.added_seq)

    def _waiting_exec(self, node_id: str, pin: str) -> NodeExec | None:
        for ne in self._incomplete(node_id):
            if pin not in ne.pins:
                return ne
        return None

    # -- node lifecycle ------------------------------------------------------------------------

    def started(self, ne: NodeExec, node_number: int | None = None) -> None:
        self.emit(NodeStarted(node_exec_id=ne.id, attempt=ne.attempts + 1, node_number=node_number))

    def finished(self, ne: NodeExec, error: str | None, stats: dict[str, Any]) -> None:
        if error is None:
            self.emit(NodeCompleted(node_exec_id=ne.id, stats=stats))
        else:
            self.emit(NodeFailed(node_exec_id=ne.id, error=error, stats=stats))

    def effect_begun(self, ne: NodeExec) -> None:
        self.emit(NodeEffectBegun(node_exec_id=ne.id))

    def request_review(self, ne: NodeExec, *, kind: str, instructions: str | None, editable: bool) -> None:
        self.emit(NodeReviewRequested(node_exec_id=ne.id, kind=kind, instructions=instructions, editable=editable))

    def pause_for_review(self) -> None:
        """Nothing runs and nodes wait for review: the run is REVIEW until they are decided."""
        self.emit(ExecutionPausedForReview(pending=len(self.state.awaiting_review())))

    def terminate_open_nodes(self, reason: str) -> None:
        for ne in list(self.state.node_execs.values()):
            if ne.status in OPEN_STATUSES:
                self.emit(NodeTerminated(node_exec_id=ne.id, reason=reason))

    def finish(self, *, error: str | None = None, out_of_credits: bool = False) -> None:
        """Record the execution's end: TERMINATED if stopped, FAILED on ``error`` (``out_of_credits``
        when a node could not be paid for), else COMPLETED."""
        if self.state.stop_requested:
            self.terminate_open_nodes("execution stopped")
            self.emit(ExecutionTerminated(stats=self.stats()))
        elif error is not None:
            self.terminate_open_nodes(error)
            self.emit(ExecutionFailed(error=error, stats=self.stats(error), out_of_credits=out_of_credits))
        else:
            self.emit(ExecutionCompleted(stats=self.stats()))

    def stats(self, error: str | None = None) -> ExecutionStats:
        s = self.state
        done = [ne for ne in s.node_execs.values() if ne.status in TERMINAL_STATUSES]
        node_time = sum((ne.end_time - ne.start_time).total_seconds()
                        for ne in done if ne.end_time and ne.start_time)
        extra_steps = sum(int(ne.stats.get("extra_steps", 0)) for ne in done)
        cost = sum(int(ne.stats.get("cost", 0)) + int(ne.stats.get("extra_cost", 0)) for ne in done)
        started = s.started_at or s.created_at
        duration = (self.clock() - started).total_seconds() if started else 0.0
        return ExecutionStats(cost=cost, duration=duration, node_exec_time=node_time,
                              node_exec_count=len(done) + extra_steps,
                              node_error_count=sum(1 for ne in done if ne.status == ExecutionStatus.FAILED),
                              error=error)
