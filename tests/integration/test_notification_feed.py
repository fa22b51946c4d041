"""The WebSocket notification feed of one query-API process, against the real PostgreSQL.

With no socket connected the feed has nobody to tell, so it reads nothing: under burst100 the API
worker holding no socket spent a sixth of its time keeping a position nobody used. A socket that
connects gets what is recorded from then on, only its own user's.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from schemas.events.notifications import NotificationRecorded, NotificationType
from services.infra import db
from services.infra.eventstore import EventStore, make_datastore
from services.infra.migrations import migrate
from services.infra.store_contract import NewEvent
from services.query_api.ws.hub import Socket
from services.query_api.ws.notifications import NotificationFeed
from tests.integration.helpers import eventually


class CountingPool:
    """The async pool, counting the connections taken from it (each one a read of the log)."""

    def __init__(self, pool) -> None:
        self.pool = pool
        self.taken = 0

    def connection(self, *args, **kwargs):
        self.taken += 1
        return self.pool.connection(*args, **kwargs)


@pytest.fixture
async def feed_and_store(settings):
    await asyncio.to_thread(migrate, settings)
    pool = db.make_async_pool(settings, min_size=1, max_size=2)
    await pool.open()
    datastore = make_datastore(settings, pool_size=1)
    pushed: list[tuple[Socket, dict]] = []
    feed = NotificationFeed(settings, CountingPool(pool), lambda socket, msg: pushed.append((socket, msg)))
    await feed.start()
    try:
        yield feed, EventStore(datastore, "notifications"), pushed
    finally:
        await feed.close()
        await pool.close()
        datastore.close()


def record(store: EventStore, user: str) -> str:
    stream_id = uuid.uuid4()
    event = NotificationRecorded(user_id=user, notification_type=NotificationType.AGENT_RUN, data={"n": 1},
                                 source_context="executions", source_stream_id=str(uuid.uuid4()), source_version=9)
    store.append([NewEvent(stream_id, 1, event, user_id=user)])
    return str(stream_id)


def socket_for(user: str) -> Socket:
    async def send(_text):
        return None

    return Socket(user, send=send)


async def test_a_feed_nobody_listens_to_reads_nothing(feed_and_store, user_ids):
    feed, store, pushed = feed_and_store
    taken = feed.pool.taken
    for _ in range(5):
        await asyncio.to_thread(record, store, user_ids["alice"])
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.8)  # past the follower's timer as well as the commits' wake-ups
    assert feed.pool.taken == taken
    assert pushed == []


async def test_a_socket_hears_its_users_notifications_from_its_connection_on(feed_and_store, user_ids):
    feed, store, pushed = feed_and_store
    alice, bob = user_ids["alice"], user_ids["bob"]
    before = await asyncio.to_thread(record, store, alice)  # while nobody was connected
    await asyncio.sleep(0.6)
    alice_socket, bob_socket = socket_for(alice), socket_for(bob)
    await feed.add(alice_socket)
    await feed.add(bob_socket)
    after = await asyncio.to_thread(record, store, alice)

    await eventually(lambda: _async(pushed), message="alice's notification pushed")
    await asyncio.sleep(0.3)
    assert [(socket, msg["data"]["id"]) for socket, msg in pushed] == [(alice_socket, after)]
    assert before != after

    feed.remove(alice_socket)
    feed.remove(bob_socket)
    await asyncio.to_thread(record, store, alice)  # nobody to tell again: the feed goes back to idle
    await asyncio.sleep(0.8)
    taken = feed.pool.taken
    await asyncio.to_thread(record, store, alice)
    await asyncio.sleep(0.8)
    assert feed.pool.taken == taken and len(pushed) == 1


async def _async(value):
    return value
