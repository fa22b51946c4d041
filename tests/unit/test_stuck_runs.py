"""When a run is stuck (pure): by status, from its newest event, once per status."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from schemas.events.executions import ExecutionQueued, ExecutionStarted, ExecutionStuckDetected
from services.domain.executions.state import ExecutionState
from services.domain.executions.stuck import stuck
from tests.stories.builders import graph_body

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def _state(*events) -> ExecutionState:
    body = graph_body(uuid.uuid4())
    queued = ExecutionQueued(user_id="u", graph_id=body.id, graph_version=1, graph=body)
    return ExecutionState.from_events("e", [(queued, T0), *((e, T0) for e in events)])


def test_a_queued_run_is_stuck_after_its_deadline_from_its_newest_event():
    state = _state()
    assert stuck(state, T0, T0 + timedelta(seconds=59), queued_s=60, running_s=600) is None
    verdict = stuck(state, T0, T0 + timedelta(seconds=61), queued_s=60, running_s=600)
    assert (verdict.status, round(verdict.idle_s), verdict.deadline_s) == ("QUEUED", 61, 60)
    assert "QUEUED waiting to start for 61 s (the limit is 60 s)" in verdict.error


def test_a_running_run_has_its_own_deadline_and_finished_runs_are_never_stuck():
    state = _state(ExecutionStarted())
    assert stuck(state, T0, T0 + timedelta(seconds=120), queued_s=60, running_s=600) is None
    assert stuck(state, T0, T0 + timedelta(seconds=601), queued_s=60, running_s=600).status == "RUNNING"
    state.status = state.status.__class__("COMPLETED")
    assert stuck(state, T0, T0 + timedelta(days=1), queued_s=60, running_s=600) is None


def test_the_flag_is_folded_so_a_run_is_flagged_once_per_status():
    state = _state(ExecutionStuckDetected(status="QUEUED", idle_s=61, deadline_s=60))
    assert state.stuck_flagged == {"QUEUED"} and state.status == "QUEUED"
