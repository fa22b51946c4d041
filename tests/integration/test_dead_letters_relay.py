"""A record the producer refuses never wedges the relay (audit F2): it is parked, later events of
its stream are held behind it in order, everything else is published, ``/health`` says why it is
red, and retry/skip publish or step over it. Real PostgreSQL, real broker."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest

from schemas.events.executions import NodeOutput
from schemas.events.graphs import ActiveVersionSet, GraphVersionCreated
from schemas.graph import GraphVersionBody
from services.infra import db, deadletters
from services.infra.eventstore import EventStore, make_datastore
from services.infra.kafka import record_limit
from services.infra.migrations import migrate
from services.infra.relay import Relay
from services.infra.store_contract import NewEvent
from tests.conftest import drop_schema, isolated_settings
from tests.integration.helpers import eventually, read_topic
from tests.integration.stack import running_stack
from tests.integration.test_executions_api import sample_graph

BIG = 1024 * 1024  # over the default max_event_bytes (512 KiB) plus the envelope headroom


@pytest.fixture
def raw_store(settings):
    """A graphs log writer without the store's size check (what an old or buggy writer left)."""
    migrate(settings)
    datastore = make_datastore(settings, pool_size=2)
    yield EventStore(datastore, "graphs", max_event_bytes=64 * BIG)
    datastore.close()


def _big_version(stream: uuid.UUID) -> GraphVersionCreated:
    return GraphVersionCreated(graph=GraphVersionBody(id=str(stream), version=1, description="x" * BIG))


async def _letters(settings, *, closed: bool = False) -> list[deadletters.DeadLetter]:
    conn = await db.aconnect(settings, autocommit=True)
    try:
        return await deadletters.list_open(conn, include_closed=closed)
    finally:
        await conn.close()


async def _mark(settings, dead_letter_id: int, status: str) -> None:
    conn = await db.aconnect(settings, autocommit=True)
    try:
        assert await deadletters.mark(conn, dead_letter_id, status)
    finally:
        await conn.close()


async def test_oversize_record_is_parked_and_its_stream_held_in_order(settings, raw_store):
    good, poisoned = uuid.uuid4(), uuid.uuid4()
    append = raw_store.append
    await asyncio.to_thread(append, [NewEvent(good, 1, ActiveVersionSet(version=1))])
    big_position = (await asyncio.to_thread(append, [NewEvent(poisoned, 1, _big_version(poisoned))]))[0]
    held_position = (await asyncio.to_thread(append, [NewEvent(poisoned, 2, ActiveVersionSet(version=2))]))[0]
    await asyncio.to_thread(append, [NewEvent(good, 2, ActiveVersionSet(version=2))])

    stop = asyncio.Event()
    relay = Relay(settings, raw_store.context)
    task = asyncio.create_task(relay.run(stop))
    try:
        envs = await read_topic(settings, settings.topic("graphs"), expect=2)
        assert sorted((str(e.stream_id), e.stream_version) for e in envs) == [(str(good), 1), (str(good), 2)]
        await eventually(lambda: _flag(relay.stats.position == held_position + 1), message="the relay moved on")

        letters = await _letters(settings)
        assert [(d.consumer, d.stream_id, d.position, d.version) for d in letters] == [
            ("relay", str(poisoned), big_position, 1), ("relay", str(poisoned), held_position, 2)]
        head, held = letters
        assert "MessageSizeTooLargeError" in head.error
        assert held.error.startswith(f"held behind dead letter #{head.id}")

        # A later event of the held stream is held too; other streams keep flowing.
        later = (await asyncio.to_thread(append, [NewEvent(poisoned, 3, ActiveVersionSet(version=3))]))[0]
        await asyncio.to_thread(append, [NewEvent(good, 3, ActiveVersionSet(version=3))])
        await eventually(lambda: _flag(relay.stats.position == later + 1), message="the relay moved on again")
        assert [d.position for d in await _letters(settings)] == [big_position, held_position, later]

        # Retry: refused again (one more attempt), nothing of the stream is published.
        await _mark(settings, head.id, "retry")
        await eventually(lambda: _attempts(settings, head.id, 2), timeout=10, message="retried")
        # Skip: the record is stepped over and the held ones are published, in order.
        await _mark(settings, head.id, "skipped")
        await eventually(lambda: _no_open(settings), timeout=10, message="held records released")
        envs = await read_topic(settings, settings.topic("graphs"), expect=5)
        assert [e.stream_version for e in envs if e.stream_id == poisoned] == [2, 3]
        statuses = {d.position: d.status for d in await _letters(settings, closed=True)}
        assert statuses == {big_position: "skipped", held_position: "resolved", later: "resolved"}
    finally:
        stop.set()
        await task


async def test_retry_after_raising_the_cap_publishes_the_record_then_the_held_ones(settings, raw_store):
    stream = uuid.uuid4()
    big = (await asyncio.to_thread(raw_store.append, [NewEvent(stream, 1, _big_version(stream))]))[0]
    held = (await asyncio.to_thread(raw_store.append, [NewEvent(stream, 2, ActiveVersionSet(version=2))]))[0]
    stop = asyncio.Event()
    task = asyncio.create_task(Relay(settings, raw_store.context).run(stop))
    letters = await eventually(lambda: _count_letters(settings, 2), message="parked and held")
    stop.set()
    await task

    # The operator raises the cap (a relay restarted with it) and retries the parked record.
    bigger = settings.model_copy(update={"max_event_bytes": 4 * BIG})
    await _mark(settings, letters[0].id, "retry")
    stop = asyncio.Event()
    task = asyncio.create_task(Relay(bigger, raw_store.context).run(stop))
    try:
        await eventually(lambda: _no_open(settings), timeout=10, message="retried and released")
        envs = await read_topic(settings, settings.topic("graphs"), expect=2)
        assert [(e.stream_version, e.position) for e in envs] == [(1, big), (2, held)]
        assert {d.status for d in await _letters(settings, closed=True)} == {"resolved"}
    finally:
        stop.set()
        await task


async def _count_letters(settings, n: int):
    letters = await _letters(settings)
    return letters if len(letters) == n else None


async def _flag(value):
    return value


async def _attempts(settings, dead_letter_id: int, n: int) -> bool:
    return any(d.id == dead_letter_id and d.attempts >= n and d.status == "parked" for d in await _letters(settings))


async def _no_open(settings) -> bool:
    return not await _letters(settings)


async def test_f2_oversize_execution_event_does_not_stop_other_users(database_url, broker, user_ids):
    """The report's F2 shape: a 1 MB event in the executions log (bypassing the caps). Another
    user's run still completes, /health is red and says why, /metrics counts the dead letter."""
    settings = isolated_settings(database_url, broker.bootstrap, health_relay_behind_s=1.0)
    try:
        async with running_stack(settings, executors=1) as stack:
            store = EventStore(stack.datastore, "executions", max_event_bytes=64 * BIG)
            stuck = uuid.uuid4()
            await asyncio.to_thread(store.append, [NewEvent(stuck, 1, NodeOutput(
                node_exec_id=str(uuid.uuid4()), pin="output", value="y" * BIG, seq=0))])
            async with stack.client(user_ids["alice"]) as alice:
                gid = (await alice.post("/api/graphs", json={"graph": sample_graph()})).json()["id"]
                run = (await alice.post(f"/api/graphs/{gid}/execute/1",
                                        json={"inputs": {"input_1": "a", "input_2": "b"}})).json()
                done = await stack.wait_terminal(alice, gid, run["id"], timeout=30)
                assert done["status"] == "COMPLETED"

                letters = await _letters(settings)
                assert [(d.consumer, d.context, d.stream_id) for d in letters] == [
                    ("relay", "executions", str(stuck))]
                health = await alice.get("/health")
                assert health.status_code == 503
                assert "1 open dead letter" in health.json()["components"]["relay"]["reasons"][0]
                assert 'agentloom_dead_letters{consumer="relay"} 1' in (await alice.get("/metrics")).text

                await _mark(settings, letters[0].id, "skipped")
                await eventually(lambda: _healthy(alice), timeout=10, message="/health green after the skip")
    finally:
        drop_schema(database_url, settings.db_schema)


async def _healthy(client) -> bool:
    return (await client.get("/health")).status_code == 200


async def test_health_red_while_the_relay_is_behind(database_url, broker, user_ids):
    """F2 found /health "ok" while the relay published nothing: the store head staying ahead of
    the relay for longer than the threshold turns it red (here the relay is simply stopped)."""
    settings = isolated_settings(database_url, broker.bootstrap, health_relay_behind_s=1.0)
    try:
        async with running_stack(settings) as stack:
            async with stack.client(user_ids["bob"]) as bob:
                assert (await bob.get("/health")).status_code == 200
                await stack.stop("relay-graphs")
                raw = EventStore(stack.datastore, "graphs")
                await asyncio.to_thread(raw.append, [NewEvent(uuid.uuid4(), 1, ActiveVersionSet(version=1))])

                async def red():
                    r = await bob.get("/health")
                    return r.status_code == 503 and r.json()["components"].get("relay")

                relay = await eventually(red, timeout=10, message="/health red for the relay")
                assert "graphs: 1 recorded events unpublished" in relay["reasons"][0]
                assert 'agentloom_relay_behind_seconds{context="graphs"} 0' not in (await bob.get("/metrics")).text
    finally:
        drop_schema(database_url, settings.db_schema)


async def test_record_limit_follows_a_lower_broker_limit(settings, raw_store, monkeypatch, caplog):
    from services.infra import relay as relay_module

    async def small_broker(*_args, **_kwargs):
        return 100_000

    monkeypatch.setattr(relay_module, "broker_message_limit", small_broker)
    relay = Relay(settings, raw_store.context)
    with caplog.at_level(logging.ERROR):
        assert await relay._check_limits() == 100_000
    assert "above the broker's record limit" in caplog.text

    async def silent_broker(*_args, **_kwargs):
        return None

    monkeypatch.setattr(relay_module, "broker_message_limit", silent_broker)
    assert await relay._check_limits() == record_limit(settings)


async def test_local_broker_cannot_report_its_limit(settings):
    """Tansu answers DescribeConfigs without entries (or closes on broker resources): None, no error."""
    from services.infra.kafka import broker_message_limit, ensure_topics

    await ensure_topics(settings, ("graphs",))
    assert await broker_message_limit(settings, settings.topic("graphs")) is None
