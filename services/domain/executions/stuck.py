"""When a run is stuck (pure): QUEUED or RUNNING with no event for longer than its status allows.

The clock is the run's own history: ``idle`` counts from its newest recorded event, so a run that
keeps recording (a long loop, a slow fan-out) is never stuck, and a run that waits on one node
longer than ``node_timeout_s`` plus margin is. A run already flagged for a status is not flagged
again for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.domain.executions.state import ExecutionState
from services.domain.executions.status import ExecutionStatus


@dataclass(frozen=True)
class Stuck:
    status: str
    idle_s: float
    deadline_s: float

    @property
    def error(self) -> str:
        waiting = "waiting to start" if self.status == ExecutionStatus.QUEUED else "with no progress"
        return (f"The run was stopped by the stuck-run watchdog: {self.status} {waiting} for {self.idle_s:.0f} s "
                f"(the limit is {self.deadline_s:g} s)")


def stuck(state: ExecutionState, last_event_at: datetime, now: datetime, *, queued_s: float,
          running_s: float) -> Stuck | None:
    deadline = {ExecutionStatus.QUEUED: queued_s, ExecutionStatus.RUNNING: running_s}.get(state.status)
    if deadline is None or state.deleted:
        return None
    idle = (now - last_event_at).total_seconds()
    return Stuck(state.status.value, idle, deadline) if idle > deadline else None
