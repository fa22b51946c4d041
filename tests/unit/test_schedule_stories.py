"""The schedule stories (``tests/stories/schedules.py``) over the in-memory store; the same stories run
on PostgreSQL in ``tests/integration/test_schedules.py``."""

from __future__ import annotations

import pytest

from services.infra.memory_eventstore import MemoryEventStore
from tests.stories.schedules import ScheduleStories
from tests.stories.world import World


@pytest.fixture
def world() -> World:
    return World(MemoryEventStore)


class TestScheduleStories(ScheduleStories):
    pass
