"""The store's append as one statement (``LogRecorder``) and the pool's idle-only ping, on the real
PostgreSQL: what the library's five-statement append guaranteed must still hold."""

from __future__ import annotations

import threading
import time
import uuid

import psycopg
import pytest

from schemas.events.store import ProfileSaved
from services.infra import idle_ping
from services.infra.eventstore import EventStore
from services.infra.store_contract import NewEvent
from tests.stories.postgres import migrated_datastore


@pytest.fixture(scope="module")
def datastore(database_url):
    with migrated_datastore(database_url) as datastore:
        yield datastore


def _profile(n: int = 1) -> list[NewEvent]:
    user = f"u-{uuid.uuid4().hex[:8]}"
    stream = uuid.uuid4()
    return [NewEvent(stream, v, ProfileSaved(user_id=user, username=user, name=f"n{v}"), user_id=user)
            for v in range(1, n + 1)]


def _connect(datastore) -> psycopg.Connection:
    info = datastore.pool.kwargs
    return psycopg.connect(dbname=info["dbname"], host=info["host"], port=info["port"], user=info["user"],
                           password=info["password"], autocommit=True)


def test_an_append_notifies_the_logs_channel_once_committed(datastore):
    store = EventStore(datastore, "store")
    with _connect(datastore) as listener:
        listener.execute('LISTEN "store_events"')
        positions = store.append(_profile(3))
        got = list(listener.notifies(timeout=5, stop_after=1))
    assert len(positions) == 3 and positions == sorted(positions)
    assert [n.channel for n in got] == ["store_events"]


def test_positions_follow_commit_order_while_the_table_lock_is_held(datastore):
    """An append waits for a writer that holds the log's lock, and its positions come after
    that writer's: readers never pass a position that is filled in later."""
    store = EventStore(datastore, "store")
    schema = datastore.schema
    with _connect(datastore) as holder:
        holder.execute("BEGIN")
        holder.execute(f'LOCK TABLE "{schema}"."store_events" IN EXCLUSIVE MODE')
        late: list[int] = []
        writer = threading.Thread(target=lambda: late.extend(store.append(_profile())))
        writer.start()
        time.sleep(0.3)
        assert not late, "the append went past a held table lock"
        holder.execute("ROLLBACK")
        writer.join(timeout=10)
    earlier = store.append(_profile())
    assert late and earlier[0] > late[0]


def test_a_version_conflict_records_nothing_of_the_batch(datastore):
    store = EventStore(datastore, "store")
    events = _profile(2)
    store.append(events[:1])
    before = store.read_stream(events[0].stream_id)
    with pytest.raises(Exception, match="(?i)conflict|duplicate|unique"):
        store.append(events)  # version 1 again, with a new version 2
    assert store.read_stream(events[0].stream_id) == before


def test_a_connection_handed_back_a_moment_ago_is_used_without_a_ping(datastore, monkeypatch):
    pings: list[object] = []
    monkeypatch.setattr(idle_ping.ConnectionPool, "check_connection", staticmethod(pings.append))
    store = EventStore(datastore, "store")
    stream = store.append(_profile())
    for _ in range(20):  # every pooled connection used and handed back (the pool hands out the oldest)
        store.read_log(after=stream[0] - 1)
    pings.clear()
    for _ in range(5):
        store.read_log(after=stream[0] - 1)
    assert pings == []
    monkeypatch.setattr(idle_ping, "IDLE_BEFORE_PING_S", 0.0)  # every connection counts as idle
    store.read_log(after=0, limit=1)
    assert len(pings) == 1


def test_a_connection_the_server_dropped_is_replaced_on_the_next_checkout(datastore, monkeypatch):
    """After a database restart the pooled connections are dead: the one that sat idle is pinged
    and replaced, so the read succeeds without surfacing the restart."""
    store = EventStore(datastore, "store")
    store.append(_profile())
    idle = [conn.info.backend_pid for conn in datastore.pool._pool]  # the pool's idle connections
    assert idle
    with _connect(datastore) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (idle,))
    monkeypatch.setattr(idle_ping, "IDLE_BEFORE_PING_S", 0.0)
    assert store.read_log(after=0, limit=1)


def test_install_refuses_a_pool_without_the_callbacks_it_sets():
    with pytest.raises(RuntimeError, match="psycopg_pool changed"):
        idle_ping.install(object())


def _append_and_wait(settings, stream: str) -> None:
    """A child process's append (it waits on the table lock its parent holds)."""
    from services.infra.eventstore import make_datastore

    user = "u-child"
    EventStore(make_datastore(settings, pool_size=1), "store").append(
        [NewEvent(uuid.UUID(stream), 1, ProfileSaved(user_id=user, username=user, name="n"), user_id=user)])


def test_an_append_whose_client_was_killed_while_waiting_for_the_lock_records_nothing(database_url):
    """A writer killed -9 while its append waits for the log's lock leaves nothing behind: the
    server notices the dead client (client_connection_check_interval) and aborts the statement,
    instead of committing it for nobody once the lock comes free."""
    import multiprocessing

    from services.infra.migrations import migrate
    from tests.conftest import drop_schema, isolated_settings
    from tests.stories.postgres import NO_BROKER

    settings = isolated_settings(database_url, NO_BROKER)
    migrate(settings)
    stream = uuid.uuid4()
    try:
        with psycopg.connect(database_url, autocommit=False) as holder:
            holder.execute(f'LOCK TABLE "{settings.db_schema}"."store_events" IN EXCLUSIVE MODE')
            child = multiprocessing.get_context("spawn").Process(target=_append_and_wait, args=(settings, str(stream)))
            child.start()
            with psycopg.connect(database_url, autocommit=True) as watcher:
                waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s"
                deadline = time.monotonic() + 30
                while watcher.execute(waiting, ("%append_store_events%",)).fetchone()[0] == 0:
                    assert time.monotonic() < deadline, "the child's append never waited on the lock"
                    time.sleep(0.05)
            child.kill()
            child.join(timeout=10)
            time.sleep(0.5)  # past the server's check of the dead client
            holder.rollback()
        with psycopg.connect(database_url, autocommit=True) as reader:
            count = reader.execute(f'SELECT count(*) FROM "{settings.db_schema}"."store_events" '
                                   "WHERE originator_id = %s", (stream,)).fetchone()[0]
        assert count == 0
    finally:
        drop_schema(database_url, settings.db_schema)
