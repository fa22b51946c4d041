"""The store stories (``tests/stories/store.py``) over the in-memory store; the same stories run on
PostgreSQL in ``tests/integration/test_store.py``."""

from __future__ import annotations

import pytest

from services.infra.memory_eventstore import MemoryEventStore
from tests.stories.store import StoreStories
from tests.stories.world import World


@pytest.fixture
def world() -> World:
    return World(MemoryEventStore)


class TestStoreStories(StoreStories):
    pass
