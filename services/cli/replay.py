"""``agentloom replay EXEC_ID``: print an execution's timeline from the store."""

from __future__ import annotations

import uuid

from services.domain.executions.audit import timeline, with_causes
from services.domain.executions.state import ExecutionState
from services.infra.eventstore import EventStore, make_datastore
from services.infra.settings import Settings


def print_timeline(settings: Settings, execution_id: str) -> int:
    try:
        stream = uuid.UUID(execution_id)
    except ValueError:
        print(f"not an execution id: {execution_id!r}")
        return 2
    datastore = make_datastore(settings, pool_size=1)
    try:
        recorded = EventStore(datastore, "executions").read_stream(stream)
    finally:
        datastore.close()
    if not recorded:
        print(f"no execution {execution_id} in the store")
        return 1
    state = ExecutionState.from_events(execution_id, ((r.decode(), r.occurred_at) for r in recorded))
    entries = with_causes([(r.stream_version, r.type, r.occurred_at, r.payload) for r in recorded])
    print("\n".join(timeline(state, entries)))
    return 0
