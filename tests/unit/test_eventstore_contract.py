"""The event store contract (``tests/stories/store_contract.py``) on the in-memory store; the same
assertions run on PostgreSQL in ``tests/integration/test_eventstore_contract_real.py``."""

from __future__ import annotations

import pytest

from services.infra.memory_eventstore import MemoryEventStore
from services.infra.store_contract import DEFAULT_MAX_EVENT_BYTES
from tests.stories.store_contract import StoreContract


@pytest.fixture
def make_store():
    def make(max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> MemoryEventStore:
        return MemoryEventStore("executions", max_event_bytes=max_event_bytes)

    return make


class TestMemoryStoreContract(StoreContract):
    pass


def test_the_memory_store_imports_neither_eventsourcing_nor_psycopg():
    from tests.unit.import_rules import import_graph

    direct = import_graph()["services.infra.memory_eventstore"]
    assert not {name for name in direct if name.split(".")[0] in {"eventsourcing", "psycopg", "psycopg_pool"}}
