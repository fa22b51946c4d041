"""The async log reader against the real store: it reads what the sync ``EventStore`` recorded, with
the same positions, bounds and order, and the relay's age of the oldest unpublished event."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from schemas.events.graphs import ActiveVersionSet
from services.infra import db, event_log
from services.infra.event_codec import decode_row
from services.infra.eventstore import EventStore, make_datastore
from services.infra.migrations import migrate
from services.infra.store_contract import NewEvent
from tests.integration.helpers import append_versions


@pytest.fixture
def store(settings):
    migrate(settings)
    datastore = make_datastore(settings, pool_size=2)
    yield EventStore(datastore, "graphs")
    datastore.close()


async def test_log_reads_agree_with_the_store(settings, store):
    first, second = await asyncio.to_thread(append_versions, store, 2, 3)
    conn = await db.aconnect(settings, autocommit=True)
    try:
        assert await event_log.head(conn, "graphs") == store.head() == 6
        assert await event_log.head(conn, "credits") == 0
        page = await event_log.rows_after(conn, "graphs", 2, 3)
        assert [row.position for row in page] == [3, 4, 5]
        assert page == store.read_log_raw(after=2, limit=3)
        found = await event_log.rows_at(conn, "graphs", [6, 1, 99])
        assert [(row.position, row.stream_id, row.stream_version) for row in found] == [(1, first, 1), (6, second, 3)]
        versions = await event_log.stream_rows(conn, "graphs", second, after=1, before=3)
        assert [(row.stream_id, row.stream_version) for row in versions] == [(second, 2)]
        everything = await event_log.stream_rows(conn, "graphs", first)
        assert [row.position for row in everything] == [1, 3, 5]
        assert [replace(decode_row(row), position=None) for row in everything] == store.read_stream(first)
        assert [row.stream_version for row in await event_log.stream_rows(conn, "graphs", first, limit=2)] == [1, 2]
    finally:
        await conn.close()


async def test_age_of_the_first_event_after_a_position(settings, store):
    recorded_at = datetime.now(UTC) - timedelta(seconds=30)
    stream = append_versions(store, 1, 1)[0]
    await asyncio.to_thread(store.append, [NewEvent(stream, 2, ActiveVersionSet(version=2), user_id="u" * 120,
                                                    occurred_at=recorded_at)])
    conn = await db.aconnect(settings, autocommit=True)
    try:
        assert await event_log.seconds_since_first_after(conn, "graphs", 2) is None
        age = await event_log.seconds_since_first_after(conn, "graphs", 1)
        assert 29 <= age < 60
    finally:
        await conn.close()


def test_a_context_name_must_be_an_identifier():
    with pytest.raises(ValueError):
        event_log.table_name('graphs"; DROP TABLE x; --')
