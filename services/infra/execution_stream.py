"""Reading and nudging one execution stream in the store (used by the command side and the
executor alike): fold it into state, record a stop request."""

from __future__ import annotations

import uuid

from schemas.events.executions import ExecutionStopRequested
from services.domain.executions.state import ExecutionState
from services.infra.appending import decide_and_append
from services.infra.eventstore import EventStore
from services.infra.store_contract import NewEvent


def load_state(store: EventStore, execution_id: uuid.UUID | str, *, upto: int | None = None) -> ExecutionState:
    recorded = store.read_stream(uuid.UUID(str(execution_id)), upto=upto)
    return ExecutionState.from_events(str(execution_id), ((item.decode(), item.occurred_at) for item in recorded))


def request_stop(store: EventStore, execution_id: uuid.UUID | str, user_id: str) -> bool:
    """Record a stop request unless the execution already ended or one is pending.

    The owning executor appends concurrently, so a version conflict just means: reload, retry."""
    stream = uuid.UUID(str(execution_id))

    def record(state: ExecutionState) -> bool:
        if state.is_terminal or state.stop_requested or state.version == 0:
            return False
        store.append([NewEvent(stream, state.version + 1, ExecutionStopRequested(requested_by=user_id),
                               user_id=user_id)])
        return True

    return decide_and_append(lambda: load_state(store, stream), record)
