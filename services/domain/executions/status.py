"""The statuses of a graph execution and of a node execution (AutoGPT's ``ExecutionStatus``), and
which event ends which: the one definition every fold, projection and reader uses."""

from __future__ import annotations

from enum import StrEnum

from schemas.events.executions import (
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionTerminated,
    NodeCompleted,
    NodeFailed,
    NodeTerminated,
)


class ExecutionStatus(StrEnum):
    """Member names equal their values, so a status reads and stores the same as the plain string."""

    INCOMPLETE = "INCOMPLETE"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    TERMINATED = "TERMINATED"
    FAILED = "FAILED"
    REVIEW = "REVIEW"  # waiting for its owner's decision (human review): nothing runs meanwhile


# A run, or a node execution, in one of these has ended and never changes status again.
TERMINAL_STATUSES = frozenset({ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.TERMINATED})
# Not started yet, or started and not ended: what a resumed run still has to drive.
PENDING_STATUSES = frozenset({ExecutionStatus.QUEUED, ExecutionStatus.RUNNING})
# Not ended: what a run's end terminates (a node waiting for review included).
OPEN_STATUSES = PENDING_STATUSES | {ExecutionStatus.REVIEW}

# The status each ending event leaves behind.
STATUS_AFTER_NODE_END = {NodeCompleted: ExecutionStatus.COMPLETED, NodeFailed: ExecutionStatus.FAILED,
                         NodeTerminated: ExecutionStatus.TERMINATED}
STATUS_AFTER_RUN_END = {ExecutionCompleted: ExecutionStatus.COMPLETED, ExecutionFailed: ExecutionStatus.FAILED,
                        ExecutionTerminated: ExecutionStatus.TERMINATED}
# The type names of the events that end a run (what a consumer sees on the wire).
TERMINAL_EVENT_TYPES = frozenset(event.TYPE for event in STATUS_AFTER_RUN_END)
