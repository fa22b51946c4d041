"""The command handlers' stories (``tests/stories``) over the in-memory store; the same stories run
on PostgreSQL in ``tests/integration/test_command_stories_real_store.py``."""

from __future__ import annotations

import pytest

from services.infra.memory_eventstore import MemoryEventStore
from tests.stories.api_keys import ApiKeyStories
from tests.stories.credentials import CredentialsStories
from tests.stories.executions import ExecutionStories
from tests.stories.graphs import GraphStories
from tests.stories.ledger import LedgerStories
from tests.stories.world import World


@pytest.fixture
def world() -> World:
    return World(MemoryEventStore)


class TestGraphStories(GraphStories):
    pass


class TestExecutionStories(ExecutionStories):
    pass


class TestApiKeyStories(ApiKeyStories):
    pass


class TestCredentialsStories(CredentialsStories):
    pass


class TestLedgerStories(LedgerStories):
    pass
