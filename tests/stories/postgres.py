"""The real store for the integration runs of the stories: PostgreSQL only, no broker.

One migrated schema of its own per test module (dropped afterwards) and one datastore; each test
gets fresh ``EventStore`` objects over it, so a story may change a store's size limit freely.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from services.infra.eventstore import make_datastore
from services.infra.migrations import migrate
from tests.conftest import drop_schema, isolated_settings

NO_BROKER = "unused:9092"  # the settings need an address; nothing here connects to it
POOL_SIZE = 8  # the contract's racers each hold a connection while they append


@contextmanager
def migrated_datastore(database_url: str) -> Iterator[object]:
    settings = isolated_settings(database_url, NO_BROKER)
    migrate(settings)
    datastore = make_datastore(settings, pool_size=POOL_SIZE)
    try:
        yield datastore
    finally:
        datastore.close()
        drop_schema(database_url, settings.db_schema)
