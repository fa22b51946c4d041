"""The command handlers' stories (``tests/stories``) on the real PostgreSQL store; the same stories
run over the in-memory store in ``tests/unit/test_command_stories.py``. PostgreSQL only: no broker."""

from __future__ import annotations

import pytest

from services.infra.eventstore import EventStore
from tests.stories.api_keys import ApiKeyStories
from tests.stories.credentials import CredentialsStories
from tests.stories.executions import ExecutionStories
from tests.stories.graphs import GraphStories
from tests.stories.ledger import LedgerStories
from tests.stories.postgres import migrated_datastore
from tests.stories.world import World


@pytest.fixture(scope="module")
def datastore(database_url):
    with migrated_datastore(database_url) as datastore:
        yield datastore


@pytest.fixture
def world(datastore) -> World:
    return World(lambda context: EventStore(datastore, context))


class TestGraphStoriesOnPostgres(GraphStories):
    pass


class TestExecutionStoriesOnPostgres(ExecutionStories):
    pass


class TestApiKeyStoriesOnPostgres(ApiKeyStories):
    pass


class TestCredentialsStoriesOnPostgres(CredentialsStories):
    pass


class TestLedgerStoriesOnPostgres(LedgerStories):
    pass
