"""Group commit for request handlers against the real store: shared commits, isolated conflicts."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from schemas.events.graphs import ActiveVersionSet
from services.command_api.application.group_append import GroupAppender
from services.infra.eventstore import EventStore, make_datastore
from services.infra.migrations import migrate
from services.infra.store_contract import ConcurrencyConflict, NewEvent


@pytest.fixture
def store(settings):
    migrate(settings)
    datastore = make_datastore(settings, pool_size=4)
    yield EventStore(datastore, "graphs")
    datastore.close()


def run_behind_a_held_leader(appender: GroupAppender, store, leader: threading.Thread,
                             others: list[threading.Thread]) -> None:
    """Start ``leader`` and hold its append until every one of ``others`` has queued behind it, so
    they all land in the next batch; then let everything finish."""
    real_append, first, release = store.append, threading.Event(), threading.Event()

    def held_first_append(events):
        if not first.is_set():
            first.set()
            release.wait(10)
        return real_append(events)

    store.append = held_first_append
    leader.start()
    first.wait(5)
    for t in others:
        t.start()
    deadline = time.monotonic() + 10
    while len(appender._queue) < len(others) and time.monotonic() < deadline:  # the point
        time.sleep(0.005)
    release.set()
    for t in [leader, *others]:
        t.join(10)


def test_concurrent_appends_share_commits_and_all_are_durable(store):
    appender = GroupAppender(store)
    streams = [uuid.uuid4() for _ in range(20)]
    results: dict[uuid.UUID, list[int]] = {}

    def one(sid):
        results[sid] = appender.append([NewEvent(sid, 1, ActiveVersionSet(version=1), user_id="u")])

    threads = [threading.Thread(target=one, args=(sid,)) for sid in streams]
    run_behind_a_held_leader(appender, store, threads[0], threads[1:])
    assert appender.commits == 2  # the held leader's own event, then the 19 that queued behind it
    positions = [p for sid in streams for p in results[sid]]
    assert len(set(positions)) == 20
    assert all(len(store.read_stream(sid)) == 1 for sid in streams)


def test_a_command_whose_events_cannot_be_stored_fails_alone(store):
    appender = GroupAppender(store)
    good = [uuid.uuid4() for _ in range(3)]
    errors: dict[str, BaseException] = {}

    def run(name, event):
        try:
            appender.append([NewEvent(uuid.uuid4() if name == "bad" else good.pop(), 1, event, user_id="u")])
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            errors[name] = exc

    leader = threading.Thread(target=run, args=("leader", ActiveVersionSet(version=1)))
    unstorable = ActiveVersionSet.model_construct(version=2 ** 70)  # orjson refuses ints beyond 64 bits
    others = [threading.Thread(target=run, args=(n, e)) for n, e in
              [("bad", unstorable), ("ok1", ActiveVersionSet(version=1)), ("ok2", ActiveVersionSet(version=1))]]
    run_behind_a_held_leader(appender, store, leader, others)
    assert set(errors) == {"bad"}


def test_only_the_conflicting_command_fails(store):
    taken = uuid.uuid4()
    store.append([NewEvent(taken, 1, ActiveVersionSet(version=1), user_id="u")])
    appender = GroupAppender(store)
    fresh = uuid.uuid4()
    errors: dict[str, BaseException] = {}
    barrier = threading.Barrier(2)

    def run(name, sid):
        barrier.wait()
        try:
            appender.append([NewEvent(sid, 1, ActiveVersionSet(version=2), user_id="u")])
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            errors[name] = exc

    threads = [threading.Thread(target=run, args=("loser", taken)), threading.Thread(target=run, args=("ok", fresh))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert isinstance(errors.get("loser"), ConcurrencyConflict) and "ok" not in errors
    assert [e.decode().version for e in store.read_stream(fresh)] == [2]
