"""AutoGPT's execution response shapes, as the REST API documents them: ``GraphExecutionMeta``,
``NodeExecutionResult``, the run with its node executions, and the audit views of a run.

``views`` (and ``audit``) build the bodies, from a folded state on the command side and from
read-model rows on the query side; the routes hand those dicts over as they are (a run's inputs
and outputs can be large, and a second validation pass would cost CPU and could filter data) and
name these shapes only for OpenAPI. Pin values, inputs and stats of a node stay open-ended.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from schemas.events.executions import ExecutionStats
from services.domain.executions.status import ExecutionStatus


class GraphExecutionMeta(BaseModel):
    id: str
    user_id: str
    graph_id: str
    graph_version: int
    inputs: dict[str, Any] | None
    credential_inputs: dict[str, Any] | None
    nodes_input_masks: dict[str, Any] | None
    preset_id: str | None
    status: ExecutionStatus
    started_at: datetime | None
    ended_at: datetime | None
    is_shared: bool
    share_token: str | None
    is_dry_run: bool
    stats: ExecutionStats | None
    parent_graph_exec_id: str | None


class NodeExecutionResult(BaseModel):
    user_id: str
    graph_id: str
    graph_version: int
    graph_exec_id: str
    node_exec_id: str
    node_id: str
    block_id: str
    status: ExecutionStatus
    input_data: dict[str, Any] | None
    output_data: dict[str, list[Any]] | None
    add_time: datetime | None
    queue_time: datetime | None
    start_time: datetime | None
    end_time: datetime | None
    stats: dict[str, Any] | None


class GraphExecutionWithNodes(GraphExecutionMeta):
    """A run, its graph outputs by name, and its node executions in the order they were added."""

    outputs: dict[str, list[Any]]
    node_executions: list[NodeExecutionResult]


class ExecutionStateAt(GraphExecutionWithNodes):
    """A run as it stood after event ``seq``, with the credits its nodes had spent by then."""

    seq: int
    cost_so_far: int


class AuditEntry(BaseModel):
    """One recorded event: its position in the run's stream, and the event that caused it."""

    seq: int
    type: str
    time: datetime
    payload: dict[str, Any]
    cause: int | None


class ExecutionHistory(BaseModel):
    execution_id: str
    events: list[AuditEntry]


class ExecutionDiffRun(BaseModel):
    """One side's run: what it ran (graph and version), how it stands, and what it cost."""

    id: str
    graph_id: str
    graph_version: int
    status: ExecutionStatus
    cost: int


class NodeExecutionSide(BaseModel):
    """One run's execution of a node, as compared (``duration_s`` is shown, never compared)."""

    node_exec_id: str
    status: ExecutionStatus
    input_data: dict[str, Any] | None
    output_data: dict[str, list[Any]]
    cost: int
    duration_s: float | None
    error: str | None


class NodeExecutionDiff(BaseModel):
    """The k-th execution of a node in each run (``None`` where one run has no k-th), and which
    compared fields differ (all of them when a side is missing)."""

    node_id: str
    block_id: str
    a: NodeExecutionSide | None
    b: NodeExecutionSide | None
    changed: list[Literal["status", "input_data", "output_data", "cost", "error"]]


class ExecutionDiffSummary(BaseModel):
    """Pairs by outcome: unpaired executions count as only-in-a or only-in-b, not as changed."""

    same: int
    changed: int
    only_in_a: int
    only_in_b: int


class ExecutionDiff(BaseModel):
    """Two runs node by node: pairs in run a's execution order, then the nodes only run b ran."""

    a: ExecutionDiffRun
    b: ExecutionDiffRun
    nodes: list[NodeExecutionDiff]
    changed_nodes: list[str]
    summary: ExecutionDiffSummary


class BranchPoint(BaseModel):
    execution_id: str
    kind: Literal["retry", "fork"]
    at_seq: int


class Lineage(BaseModel):
    """``GET /api/executions/{id}/lineage``: where a run branched off (up the chain of retries and
    forks) and the runs that branched off it."""

    execution_id: str
    branched_from: BranchPoint | None  # the run this one retries or forks, and where
    ancestors: list[BranchPoint]  # branched_from, then where that run branched off, and so on up
    branches: list[BranchPoint]  # retries and forks of this run (execution_id: the new run)
