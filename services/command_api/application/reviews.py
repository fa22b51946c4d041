"""Human-review decisions (``POST /api/review/action``): record them on the runs that wait.

AutoGPT's request names node executions only, so the run each belongs to is looked up in the
review read model (the caller's rows only); the decision itself is made on the run's stream, the
system of record, at the version loaded (``review.decide``), and recorded with the run's
``ExecutionResumed`` when it decides the last waiting node. A node whose review the read model
does not show yet is not found (404), never guessed.
"""

from __future__ import annotations

import uuid
from typing import Any

from services.domain.errors import NotFoundError
from services.domain.executions import review
from services.domain.executions.state import ExecutionState
from services.infra.appending import decide_and_append
from services.infra.auth import User
from services.infra.eventstore import EventStore
from services.infra.execution_stream import load_state
from services.infra.read_model_reader import ReadModelReader
from services.infra.store_contract import NewEvent

_RUNS_OF = ("SELECT node_exec_id::text AS node_exec_id, execution_id::text AS execution_id FROM rm_human_reviews "
            "WHERE user_id = %s AND node_exec_id = ANY(%s::uuid[])")


class ReviewCommands:
    def __init__(self, store: EventStore, reads: ReadModelReader) -> None:
        self.store = store  # the executions log
        self.reads = reads

    def act(self, user: User, decisions: list[review.Decision]) -> dict[str, Any]:
        rows = self.reads.all(_RUNS_OF, (user.id, [d.node_exec_id for d in decisions]))
        run_of = {row["node_exec_id"]: row["execution_id"] for row in rows}
        missing = [d.node_exec_id for d in decisions if d.node_exec_id not in run_of]
        if missing:
            raise NotFoundError(f"No review of node execution {missing[0]} found")
        by_run: dict[str, list[review.Decision]] = {}
        for d in decisions:
            by_run.setdefault(run_of[d.node_exec_id], []).append(d)
        for execution_id, run_decisions in by_run.items():
            self._decide(user, execution_id, run_decisions)
        approved = sum(1 for d in decisions if d.approved)
        return {"approved_count": approved, "rejected_count": len(decisions) - approved, "failed_count": 0,
                "error": None}

    def _decide(self, user: User, execution_id: str, decisions: list[review.Decision]) -> None:
        stream = uuid.UUID(execution_id)

        def load() -> ExecutionState:
            state = load_state(self.store, stream)
            if state.version == 0 or state.user_id != user.id or state.deleted:
                raise NotFoundError(f"Graph execution #{execution_id} not found")
            return state

        def record(state: ExecutionState) -> None:
            events = review.decide(state, decisions, reviewer=user.id)
            self.store.append([NewEvent(stream, state.version + i, event, user_id=user.id)
                               for i, event in enumerate(events, start=1)])

        decide_and_append(load, record)
