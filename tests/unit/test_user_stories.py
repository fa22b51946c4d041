"""The user and onboarding stories (``tests/stories/users.py``, ``onboarding.py``) over the in-memory
store; the same stories run on PostgreSQL in ``tests/integration/test_users_api.py``."""

from __future__ import annotations

import pytest

from services.infra.memory_eventstore import MemoryEventStore
from tests.stories.onboarding import OnboardingStories
from tests.stories.users import UserStories
from tests.stories.world import World


@pytest.fixture
def world() -> World:
    return World(MemoryEventStore)


class TestUserStories(UserStories):
    pass


class TestOnboardingStories(OnboardingStories):
    pass
