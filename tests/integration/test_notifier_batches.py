"""The notification recorder takes a consumer batch at once, against the real PostgreSQL: the runs
the batch ends are read in one query (each as it stood at its end) and the notifications appended
together, and a batch replayed whole or in part after a crash still records each one once."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from schemas.events.executions import (
    ExecutionCompleted,
    ExecutionDeleted,
    ExecutionPausedForReview,
    ExecutionQueued,
    ExecutionStarted,
    ExecutionStats,
)
from schemas.events.notifications import NotificationRecorded
from services.infra.eventstore import EventStore, make_datastore
from services.infra.ledger_service import LedgerService
from services.infra.migrations import migrate
from services.infra.store_contract import NewEvent
from services.notifier.recorder import NotificationRecorder
from services.notifier.service import STORES
from tests.stories.builders import graph_body, stream_envelopes


@pytest.fixture
async def recorder_and_stores(settings):
    await asyncio.to_thread(migrate, settings)
    datastore = make_datastore(settings, pool_size=2)
    stores = {ctx: EventStore(datastore, ctx) for ctx in STORES}
    recorder = NotificationRecorder(settings, stores, LedgerService.from_settings(stores["credits"], settings))
    try:
        yield recorder, stores
    finally:
        datastore.close()


def a_run(stores, user: str, *, name: str, tail=(), seconds: float = 1.5) -> list:
    """A run of ``user`` recorded in the store; the envelopes of its events as the relay publishes
    them (positions aside)."""
    stream_id = uuid.uuid4()
    graph_id = uuid.uuid4()
    events = [ExecutionQueued(user_id=user, graph_id=str(graph_id), graph_version=1,
                              graph=graph_body(graph_id, name=name)),
              ExecutionStarted(), *tail,
              ExecutionCompleted(stats=ExecutionStats(duration=seconds, node_exec_count=2)),
              ExecutionDeleted(deleted_by=user)]  # after the end: not part of the run as it ended
    stores["executions"].append([NewEvent(stream_id, v, e, user_id=user) for v, e in enumerate(events, start=1)])
    return stream_envelopes(str(stream_id), events, user_id=user)


def recorded(stores, user: str) -> list:
    log = stores["notifications"].read_log(after=0, limit=10_000)
    return [e for e in log if e.type == NotificationRecorded.TYPE and e.user_id == user]


async def test_a_batch_of_run_ends_is_recorded_each_as_it_ended(recorder_and_stores, user_ids):
    recorder, stores = recorder_and_stores
    alice, bob = user_ids["alice"], user_ids["bob"]
    runs = [a_run(stores, alice, name=f"a{i}", seconds=i) for i in range(5)] + [a_run(stores, bob, name="b")]
    batch = [env for run in runs for env in run]  # every event; only the ends are of interest

    await asyncio.to_thread(recorder.handle_batch, batch)

    mine = {e.payload["data"]["execution_id"]: e.payload["data"] for e in recorded(stores, alice)}
    assert set(mine) == {str(run[0].stream_id) for run in runs[:5]}
    for i, run in enumerate(runs[:5]):
        data = mine[str(run[0].stream_id)]
        assert (data["agent_name"], data["status"], data["execution_time"], data["node_count"]) == \
            (f"a{i}", "COMPLETED", i, 2)
    assert {e.payload["source_version"] for e in recorded(stores, alice)} == {3}  # the end, not the deletion
    (theirs,) = recorded(stores, bob)
    assert theirs.payload["data"]["execution_id"] == str(runs[5][0].stream_id)
    assert recorder.stats.recorded == 6 and recorder.stats.duplicates == 0


async def test_a_replayed_batch_records_nothing_twice_and_misses_nothing(recorder_and_stores, user_ids):
    recorder, stores = recorder_and_stores
    alice = user_ids["alice"]
    first = [a_run(stores, alice, name=f"x{i}") for i in range(3)]
    await asyncio.to_thread(recorder.handle_batch, [env for run in first for env in run])

    later = [a_run(stores, alice, name=f"y{i}") for i in range(2)]
    replayed = [env for run in first[1:] + later for env in run]  # a crash before the commit: part old, part new
    await asyncio.to_thread(recorder.handle_batch, replayed)
    await asyncio.to_thread(recorder.handle_batch, replayed + replayed)  # and the same records twice in one batch

    names = sorted(e.payload["data"]["agent_name"] for e in recorded(stores, alice))
    assert names == ["x0", "x1", "x2", "y0", "y1"]
    assert recorder.stats.recorded == 5 and recorder.stats.duplicates == 2 + 8


async def test_a_run_paused_then_ended_in_one_batch_is_told_its_end_once(recorder_and_stores, user_ids):
    recorder, stores = recorder_and_stores
    alice = user_ids["alice"]
    run = a_run(stores, alice, name="paused", tail=[ExecutionPausedForReview(pending=1)])
    await asyncio.to_thread(recorder.handle_batch, run)

    (note,) = recorded(stores, alice)  # the pause has no node waiting: only the end is news
    assert note.payload["notification_type"] == "AGENT_RUN" and note.payload["data"]["status"] == "COMPLETED"
    assert note.payload["source_version"] == 4  # the end, not the deletion after it
