"""Events of the executions context (stream = one graph execution id).

The command API records ``ExecutionQueued`` (with the exact graph version to run, so an execution
is self-contained and replayable) and ``ExecutionStopRequested``. The executor that owns the
execution records everything else as it drives the run. Folding the stream in order reproduces
the execution exactly: which node executions exist, what each received, queued with, yielded
and how it ended.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.events.base import Event, upcaster
from schemas.graph import GraphVersionBody


class ExecutionEvent(Event):
    CONTEXT: ClassVar[str] = "executions"


class ExecutionStats(BaseModel):
    """The stats block carried by terminal events (AutoGPT's GraphExecutionStats)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    cost: int = 0
    duration: float = 0.0
    duration_cpu_only: float = 0.0
    node_exec_time: float = 0.0
    node_exec_time_cpu_only: float = 0.0
    node_exec_count: int = 0
    node_error_count: int = 0
    error: str | None = None


class Branch(BaseModel):
    """Where a run branched off another: a retry (from the other run's end) or a fork (from the
    other run's event ``at_seq``). The new run reuses the recorded outputs of every node the other
    run had completed by then whose block and inputs are the same."""

    model_config = ConfigDict(frozen=True)
    execution_id: str
    kind: Literal["retry", "fork"]
    at_seq: int


class ExecutionQueued(ExecutionEvent):
    """``is_dry_run`` (version 2) marks a run that simulates instead of reaching outside: blocks
    with external effects yield their declared dry-run output, and nothing is charged. A sub-graph
    run started by a dry run is one too. Version 1 events upcast to false: before it existed every
    run was real. ``branched_from`` (version 3) names the run a retry or fork branched off;
    earlier events upcast to none. ``source`` (version 4) is what the caller said started the run
    (AutoGPT's execute ``source``: ``library``, ``builder``, …), kept for the audit; earlier events
    upcast to none."""

    TYPE: ClassVar[str] = "ExecutionQueued"
    CLASS_VERSION: ClassVar[int] = 4
    user_id: str
    graph_id: str
    graph_version: int
    graph: GraphVersionBody
    inputs: dict[str, Any] = Field(default_factory=dict)
    credentials_inputs: dict[str, Any] = Field(default_factory=dict)
    nodes_input_masks: dict[str, dict[str, Any]] = Field(default_factory=dict)
    preset_id: str | None = None
    parent_execution_id: str | None = None
    parent_node_exec_id: str | None = None
    is_dry_run: bool = False
    branched_from: Branch | None = None
    source: str | None = None


@upcaster("ExecutionQueued", 1)
def _execution_queued_v1(payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload, "is_dry_run": False}


@upcaster("ExecutionQueued", 2)
def _execution_queued_v2(payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload, "branched_from": None}


@upcaster("ExecutionQueued", 3)
def _execution_queued_v3(payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload, "source": None}


class ExecutionBranched(ExecutionEvent):
    """A retry or fork of this run was queued as ``execution_id`` (recorded in the same commit as
    that run's ``ExecutionQueued``), so this run's history names its branches."""

    TYPE: ClassVar[str] = "ExecutionBranched"
    execution_id: str
    kind: Literal["retry", "fork"]
    at_seq: int


class ExecutionStarted(ExecutionEvent):
    TYPE: ClassVar[str] = "ExecutionStarted"
    resumed: bool = False


class ExecutionStopRequested(ExecutionEvent):
    TYPE: ClassVar[str] = "ExecutionStopRequested"
    requested_by: str


class NodeInputAdded(ExecutionEvent):
    """A value arrived on an input pin of a waiting (INCOMPLETE) node execution; ``created``
    means this value opened a new node execution."""

    TYPE: ClassVar[str] = "NodeInputAdded"
    node_exec_id: str
    node_id: str
    block_id: str
    pin: str
    value: Any = None
    created: bool = False


class NodeQueued(ExecutionEvent):
    """The node execution has every input it needs; ``input_data`` is the resolved input."""

    TYPE: ClassVar[str] = "NodeQueued"
    node_exec_id: str
    node_id: str
    block_id: str
    input_data: dict[str, Any]


class NodeStarted(ExecutionEvent):
    """``node_number`` is the node execution's place in its user's count (the every-Nth-node
    surcharge), kept by every later attempt; None when nothing is counted, or when the number was
    asked of the executor's table (``executor_node_numbers``) instead."""

    TYPE: ClassVar[str] = "NodeStarted"
    node_exec_id: str
    attempt: int = 1
    node_number: int | None = None


class NodeOutput(ExecutionEvent):
    """One yielded output, in yield order (``seq`` counts from 0 per node execution)."""

    TYPE: ClassVar[str] = "NodeOutput"
    node_exec_id: str
    pin: str
    value: Any = None
    seq: int


class NodeCompleted(ExecutionEvent):
    TYPE: ClassVar[str] = "NodeCompleted"
    node_exec_id: str
    stats: dict[str, Any] = Field(default_factory=dict)


class NodeFailed(ExecutionEvent):
    TYPE: ClassVar[str] = "NodeFailed"
    node_exec_id: str
    error: str
    stats: dict[str, Any] = Field(default_factory=dict)


class NodeTerminated(ExecutionEvent):
    """A queued or running node execution was cut short because the execution ended."""

    TYPE: ClassVar[str] = "NodeTerminated"
    node_exec_id: str
    reason: str = ""


class NodeEffectBegun(ExecutionEvent):
    """The node's block, one with effects outside agentloom that are not safe to repeat (an HTTP
    POST, an email), is about to run: recorded and durable before the block starts. A resumed run
    that finds this without the node's end does not know whether the effect happened, so it asks
    the owner (``NodeReviewRequested`` with kind ``outcome_unknown``) instead of running it again."""

    TYPE: ClassVar[str] = "NodeEffectBegun"
    node_exec_id: str


class NodeReviewRequested(ExecutionEvent):
    """The node waits for its owner's decision (status REVIEW) before it runs: a HumanInTheLoop
    block, a node marked ``requires_human_review`` while the graph's ``human_in_the_loop_safe_mode``
    is on (kind ``review``), or a node whose effect may or may not have happened before a crash
    (kind ``outcome_unknown``). What the reviewer sees is the node's resolved input, already in
    the stream (for a HumanInTheLoop block its ``data``), so this event holds no values of its
    own; the reviewer may edit it when ``editable``."""

    TYPE: ClassVar[str] = "NodeReviewRequested"
    node_exec_id: str
    kind: Literal["review", "outcome_unknown"] = "review"
    instructions: str | None = None
    editable: bool = True


class ExecutionPausedForReview(ExecutionEvent):
    """Nothing is left to run but nodes waiting for review: the run is REVIEW, holds no executor
    slot and costs nothing while it waits. ``pending`` counts the waiting node executions."""

    TYPE: ClassVar[str] = "ExecutionPausedForReview"
    pending: int


class NodeReviewed(ExecutionEvent):
    """The owner decided a waiting node. For kind ``review``: approved runs it (with
    ``reviewed_data`` in place of the payload when given), rejected fails it with ``message``
    (a HumanInTheLoop block yields ``rejected_data`` instead). For kind ``outcome_unknown``:
    approved runs it again, rejected marks it done with ``reviewed_data`` as its outputs.
    ``auto_approve_future`` approves later reviews of the same node in this run."""

    TYPE: ClassVar[str] = "NodeReviewed"
    node_exec_id: str
    approved: bool
    reviewed_data: Any = None
    was_edited: bool = False
    message: str | None = None
    auto_approve_future: bool = False
    reviewed_by: str


class ExecutionResumed(ExecutionEvent):
    """The last waiting review was decided (recorded with it): the run is RUNNING again and its
    owner executor picks it up where it paused."""

    TYPE: ClassVar[str] = "ExecutionResumed"


class ExecutionCompleted(ExecutionEvent):
    TYPE: ClassVar[str] = "ExecutionCompleted"
    stats: ExecutionStats


class ExecutionFailed(ExecutionEvent):
    """``out_of_credits`` (version 2) marks a run cut short because a node could not be paid for;
    the notifier turns it into ZERO_BALANCE. Version 1 events upcast to false: before it existed
    nothing said why a run failed, and a ZERO_BALANCE for an old run would be news to nobody."""

    TYPE: ClassVar[str] = "ExecutionFailed"
    CLASS_VERSION: ClassVar[int] = 2
    error: str
    stats: ExecutionStats
    out_of_credits: bool = False


@upcaster("ExecutionFailed", 1)
def _execution_failed_v1(payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload, "out_of_credits": False}


class ExecutionTerminated(ExecutionEvent):
    TYPE: ClassVar[str] = "ExecutionTerminated"
    stats: ExecutionStats


class ExecutionStuckDetected(ExecutionEvent):
    """The run made no progress for longer than its status allows (QUEUED: waiting to start,
    RUNNING: no event at all). Recorded once per status by the watchdog, so the run's history says
    so; when the watchdog is set to end stuck runs, the run's end follows in the same append."""

    TYPE: ClassVar[str] = "ExecutionStuckDetected"
    status: str
    idle_s: float
    deadline_s: float


class ExecutionShared(ExecutionEvent):
    """The owner turned sharing on for the ended run: anyone holding ``share_token`` (random, 256
    bits) may read its outputs, and nothing else, at ``GET /api/public/shared/{share_token}``."""

    TYPE: ClassVar[str] = "ExecutionShared"
    share_token: str
    shared_by: str


class ExecutionUnshared(ExecutionEvent):
    """The owner turned sharing off: the token reads nothing any more (a later share makes a new one)."""

    TYPE: ClassVar[str] = "ExecutionUnshared"
    unshared_by: str


class ExecutionDeleted(ExecutionEvent):
    """The owner deleted the execution from their history (soft delete: the events stay)."""

    TYPE: ClassVar[str] = "ExecutionDeleted"
    deleted_by: str
