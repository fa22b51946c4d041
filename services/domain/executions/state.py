"""An execution as it stands after a prefix of its event stream (pure fold, no I/O).

The executor decides with it, the command API answers with it, replay and audit show it. Folding
the same events always gives the same state, which is what makes crash recovery and
``state?at_seq=N`` trustworthy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from schemas.events.base import Event
from schemas.events.executions import (
    Branch,
    ExecutionBranched,
    ExecutionDeleted,
    ExecutionPausedForReview,
    ExecutionQueued,
    ExecutionResumed,
    ExecutionShared,
    ExecutionStarted,
    ExecutionStats,
    ExecutionStopRequested,
    ExecutionStuckDetected,
    ExecutionUnshared,
    NodeEffectBegun,
    NodeInputAdded,
    NodeOutput,
    NodeQueued,
    NodeReviewed,
    NodeReviewRequested,
    NodeStarted,
)
from schemas.graph import GraphVersionBody
from services.domain.executions.status import (
    STATUS_AFTER_NODE_END,
    STATUS_AFTER_RUN_END,
    TERMINAL_STATUSES,
    ExecutionStatus,
)


@dataclass
class NodeExec:
    id: str
    node_id: str
    block_id: str
    status: ExecutionStatus = ExecutionStatus.INCOMPLETE
    pins: dict[str, Any] = field(default_factory=dict)
    input_data: dict[str, Any] | None = None
    outputs: list[tuple[str, Any]] = field(default_factory=list)
    added_seq: int = 0
    queued_seq: int | None = None
    attempts: int = 0
    add_time: datetime | None = None
    queue_time: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    error: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    effect_begun: bool = False  # its block with unrepeatable effects started (NodeEffectBegun)
    node_number: int | None = None  # its place in the user's count (the surcharge), once recorded
    review_request: NodeReviewRequested | None = None  # the latest review it waits or waited for
    review: NodeReviewed | None = None  # the decision on that review (None while it waits)

    @property
    def awaiting_review(self) -> bool:
        return self.status == ExecutionStatus.REVIEW and self.review is None

    def output_data(self) -> dict[str, list[Any]]:
        data: dict[str, list[Any]] = {}
        for pin, value in self.outputs:
            data.setdefault(pin, []).append(value)
        return data


@dataclass
class ExecutionState:
    id: str
    version: int = 0  # stream version of the last folded event
    user_id: str = ""
    graph_id: str = ""
    graph_version: int = 0
    graph: GraphVersionBody | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    credentials_inputs: dict[str, Any] = field(default_factory=dict)
    nodes_input_masks: dict[str, dict[str, Any]] = field(default_factory=dict)
    preset_id: str | None = None
    parent_execution_id: str | None = None
    parent_node_exec_id: str | None = None
    is_dry_run: bool = False  # simulates blocks with external effects and is never charged
    status: ExecutionStatus = ExecutionStatus.INCOMPLETE
    error: str | None = None
    stop_requested: bool = False
    deleted: bool = False
    created_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    stats: ExecutionStats | None = None
    node_execs: dict[str, NodeExec] = field(default_factory=dict)
    stuck_flagged: set[str] = field(default_factory=set)  # statuses the watchdog found stuck
    branched_from: Branch | None = None  # the run this one retries or forks
    branches: list[Branch] = field(default_factory=list)  # retries and forks of this run (their ids)
    auto_approved: set[str] = field(default_factory=set)  # node ids whose later reviews are approved
    share_token: str | None = None  # set while the owner shares the run (ExecutionShared)
    _counter: int = 0

    @classmethod
    def from_events(cls, execution_id: str, events: Iterable[tuple[Event, datetime | None]]) -> ExecutionState:
        """The one fold: the state after ``(event, occurred_at)`` pairs, in stream order."""
        state = cls(execution_id)
        for event, at in events:
            state.apply(event, at)
        return state

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def next_seq(self) -> int:
        """The next ordinal of a node execution's arrival or queueing (the fold's own counter)."""
        self._counter += 1
        return self._counter

    def apply(self, event: Event, at: datetime | None = None) -> None:
        self.version += 1
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event, at)

    # -- node queries used by the planner ------------------------------------------------------

    def execs_of(self, node_id: str) -> list[NodeExec]:
        return [ne for ne in self.node_execs.values() if ne.node_id == node_id]

    def awaiting_review(self) -> list[NodeExec]:
        """Node executions waiting for their owner's decision, in the order they asked."""
        return [ne for ne in self.node_execs.values() if ne.awaiting_review]



def _queued(s: ExecutionState, e: ExecutionQueued, at) -> None:
    s.user_id, s.graph_id, s.graph_version, s.graph = e.user_id, e.graph_id, e.graph_version, e.graph
    s.inputs, s.credentials_inputs, s.nodes_input_masks = e.inputs, e.credentials_inputs, e.nodes_input_masks
    s.preset_id, s.parent_execution_id, s.parent_node_exec_id = (e.preset_id, e.parent_execution_id,
                                                                 e.parent_node_exec_id)
    s.is_dry_run, s.branched_from = e.is_dry_run, e.branched_from
    s.status, s.created_at = ExecutionStatus.QUEUED, at


def _branched(s: ExecutionState, e: ExecutionBranched, at) -> None:
    s.branches.append(Branch(execution_id=e.execution_id, kind=e.kind, at_seq=e.at_seq))


def _started(s: ExecutionState, e: ExecutionStarted, at) -> None:
    if s.status in (ExecutionStatus.QUEUED, ExecutionStatus.INCOMPLETE):
        s.status = ExecutionStatus.RUNNING
        s.started_at = s.started_at or at


def _stop(s: ExecutionState, e: ExecutionStopRequested, at) -> None:
    s.stop_requested = True


def _deleted(s: ExecutionState, e: ExecutionDeleted, at) -> None:
    s.deleted = True


def _stuck(s: ExecutionState, e: ExecutionStuckDetected, at) -> None:
    s.stuck_flagged.add(e.status)


def _input(s: ExecutionState, e: NodeInputAdded, at) -> None:
    ne = s.node_execs.get(e.node_exec_id)
    if ne is None:
        ne = NodeExec(e.node_exec_id, e.node_id, e.block_id, added_seq=s.next_seq(), add_time=at)
        s.node_execs[ne.id] = ne
    ne.pins[e.pin] = e.value


def _node_queued(s: ExecutionState, e: NodeQueued, at) -> None:
    ne = s.node_execs.get(e.node_exec_id)
    if ne is None:
        ne = NodeExec(e.node_exec_id, e.node_id, e.block_id, added_seq=s.next_seq(), add_time=at)
        s.node_execs[ne.id] = ne
    ne.status, ne.input_data, ne.queued_seq, ne.queue_time = ExecutionStatus.QUEUED, e.input_data, s.next_seq(), at


def _node_started(s: ExecutionState, e: NodeStarted, at) -> None:
    ne = s.node_execs[e.node_exec_id]
    ne.status, ne.attempts = ExecutionStatus.RUNNING, e.attempt
    ne.start_time = ne.start_time or at
    if e.node_number is not None:
        ne.node_number = e.node_number


def _effect_begun(s: ExecutionState, e: NodeEffectBegun, at) -> None:
    s.node_execs[e.node_exec_id].effect_begun = True


def _review_requested(s: ExecutionState, e: NodeReviewRequested, at) -> None:
    ne = s.node_execs[e.node_exec_id]
    ne.status, ne.review_request, ne.review = ExecutionStatus.REVIEW, e, None


def _paused(s: ExecutionState, e: ExecutionPausedForReview, at) -> None:
    s.status = ExecutionStatus.REVIEW


def _reviewed(s: ExecutionState, e: NodeReviewed, at) -> None:
    """A decided node is QUEUED again: its run drives it, with the decision, when it resumes."""
    ne = s.node_execs[e.node_exec_id]
    ne.status, ne.review, ne.effect_begun = ExecutionStatus.QUEUED, e, False
    if e.auto_approve_future and e.approved:
        s.auto_approved.add(ne.node_id)


def _shared(s: ExecutionState, e: ExecutionShared, at) -> None:
    s.share_token = e.share_token


def _unshared(s: ExecutionState, e: ExecutionUnshared, at) -> None:
    s.share_token = None


def _resumed(s: ExecutionState, e: ExecutionResumed, at) -> None:
    s.status = ExecutionStatus.RUNNING


def _node_output(s: ExecutionState, e: NodeOutput, at) -> None:
    ne = s.node_execs[e.node_exec_id]
    if e.seq == len(ne.outputs):
        ne.outputs.append((e.pin, e.value))


def _node_end(status: ExecutionStatus):
    def handler(s: ExecutionState, e, at) -> None:
        ne = s.node_execs[e.node_exec_id]
        ne.status, ne.end_time = status, at
        ne.error = getattr(e, "error", None) or getattr(e, "reason", None) or None
        ne.stats = getattr(e, "stats", None) or {}
    return handler


def _end(status: ExecutionStatus):
    def handler(s: ExecutionState, e, at) -> None:
        s.status, s.ended_at, s.stats = status, at, e.stats
        s.error = getattr(e, "error", None)
    return handler


_HANDLERS = {
    ExecutionQueued: _queued,
    ExecutionStarted: _started,
    ExecutionStopRequested: _stop,
    ExecutionDeleted: _deleted,
    ExecutionStuckDetected: _stuck,
    ExecutionBranched: _branched,
    NodeInputAdded: _input,
    NodeQueued: _node_queued,
    NodeStarted: _node_started,
    NodeOutput: _node_output,
    NodeEffectBegun: _effect_begun,
    NodeReviewRequested: _review_requested,
    ExecutionPausedForReview: _paused,
    NodeReviewed: _reviewed,
    ExecutionResumed: _resumed,
    ExecutionShared: _shared,
    ExecutionUnshared: _unshared,
    **{kind: _node_end(status) for kind, status in STATUS_AFTER_NODE_END.items()},
    **{kind: _end(status) for kind, status in STATUS_AFTER_RUN_END.items()},
}

