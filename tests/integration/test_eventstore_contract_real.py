"""The event store contract (``tests/stories/store_contract.py``) on the real PostgreSQL store; the
same assertions run on the in-memory store in ``tests/unit/test_eventstore_contract.py``."""

from __future__ import annotations

import pytest

from services.infra.eventstore import EventStore
from services.infra.store_contract import DEFAULT_MAX_EVENT_BYTES
from tests.stories.postgres import migrated_datastore
from tests.stories.store_contract import StoreContract


@pytest.fixture(scope="module")
def datastore(database_url):
    with migrated_datastore(database_url) as datastore:
        yield datastore


@pytest.fixture
def make_store(datastore):
    def make(max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> EventStore:
        return EventStore(datastore, "executions", max_event_bytes=max_event_bytes)

    return make


class TestRealStoreContract(StoreContract):
    pass
