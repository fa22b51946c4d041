"""The library and preset stories (``tests/stories/library.py``) over the in-memory store; the same
stories run on PostgreSQL in ``tests/integration/test_library.py``."""

from __future__ import annotations

import pytest

from services.infra.memory_eventstore import MemoryEventStore
from tests.stories.library import LibraryStories, PresetStories
from tests.stories.world import World


@pytest.fixture
def world() -> World:
    return World(MemoryEventStore)


class TestLibraryStories(LibraryStories):
    pass


class TestPresetStories(PresetStories):
    pass
