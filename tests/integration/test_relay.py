"""The outbox relay against the real PostgreSQL store and the real broker."""

import asyncio
import contextlib
from collections import defaultdict

import pytest

from schemas.envelope import Envelope
from schemas.events.graphs import ActiveVersionSet
from services.infra.eventstore import EventStore, make_datastore
from services.infra.migrations import migrate
from services.infra.relay import Relay
from services.infra.store_contract import ConcurrencyConflict, NewEvent
from tests.integration.helpers import append_versions, eventually, read_topic


@pytest.fixture
def store(settings):
    migrate(settings)
    datastore = make_datastore(settings, pool_size=2)
    yield EventStore(datastore, "graphs")
    datastore.close()


def assert_ordered_per_stream(envelopes):
    seen = defaultdict(list)
    for env in envelopes:
        seen[env.stream_id].append(env.stream_version)
    for versions in seen.values():
        deduped = [v for i, v in enumerate(versions) if i == 0 or v > versions[i - 1]]
        assert deduped == sorted(set(versions)), versions
        # a re-delivery may repeat a suffix, never go back further than one batch
    return seen


def test_optimistic_concurrency(store):
    sid = append_versions(store, 1, 1)[0]
    with pytest.raises(ConcurrencyConflict):
        store.append([NewEvent(sid, 1, ActiveVersionSet(version=9))])
    assert [e.stream_version for e in store.read_stream(sid)] == [1]


async def test_relay_publishes_everything_in_order(settings, store):
    await asyncio.to_thread(append_versions, store, 20, 10)
    stop = asyncio.Event()
    relay = Relay(settings, store.context, batch_size=37)
    task = asyncio.create_task(relay.run(stop))
    envs = await read_topic(settings, settings.topic("graphs"), expect=200)
    # Events recorded while the relay runs are published too (woken by NOTIFY).
    await asyncio.to_thread(append_versions, store, 5, 2)
    await eventually(lambda: _published(relay, 210), message="relay publishes new events")
    stop.set()
    await task
    envs = await read_topic(settings, settings.topic("graphs"), expect=210)
    assert len({(e.stream_id, e.stream_version) for e in envs}) == 210
    assert_ordered_per_stream(envs)
    positions = [e.position for e in envs]
    assert len(set(positions)) == 210


async def _published(relay, n):
    return relay.stats.published >= n


async def test_records_land_where_the_partitioner_puts_them_with_their_offsets_recorded(settings, store):
    """Each record is on the partition Kafka's default partitioner picks for its stream, a
    partition's offsets are consecutive in store order, a record larger than one producer batch
    goes out too, and the saved offset per partition is the last one the broker holds. The
    relay batches small records itself and sends large ones alone: a stream mixing both (small,
    larger than a batch, small, large, small) keeps its order."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from services.infra import db
    from services.infra.kafka import BATCH_BYTES, partition_for_key
    from services.infra.relay import ALONE_BYTES

    ids = await asyncio.to_thread(append_versions, store, 30, 4)
    mixed = [NewEvent(ids[0], 5, ActiveVersionSet(version=5), user_id="x" * (BATCH_BYTES + 50_000)),
             NewEvent(ids[0], 6, ActiveVersionSet(version=6)),
             NewEvent(ids[0], 7, ActiveVersionSet(version=7), user_id="y" * (ALONE_BYTES + 1000)),
             NewEvent(ids[0], 8, ActiveVersionSet(version=8))]
    await asyncio.to_thread(store.append, mixed)
    stop = asyncio.Event()
    relay = Relay(settings, store.context, batch_size=1000)
    task = asyncio.create_task(relay.run(stop))
    await eventually(lambda: _published(relay, 124), message="relay publishes all 124 events")
    stop.set()
    await task

    topic = settings.topic("graphs")
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False,
                                fetch_max_bytes=8 * 1024 * 1024, max_partition_fetch_bytes=8 * 1024 * 1024)
    await consumer.start()
    try:
        partitions = sorted(consumer.partitions_for_topic(topic) or ())
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        messages = []
        for _ in range(100):
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                messages.extend(batch)
            if len(messages) >= 124:
                break
    finally:
        await consumer.stop()
    assert len(messages) == 124
    by_partition = defaultdict(list)
    for m in messages:
        env = Envelope.from_bytes(m.value)
        assert m.partition == partition_for_key(str(env.stream_id).encode(), partitions, partitions)
        by_partition[m.partition].append((m.offset, env.position))
    for rows in by_partition.values():
        offsets, positions = [o for o, _ in rows], [p for _, p in rows]
        assert offsets == list(range(offsets[0], offsets[0] + len(offsets))) and positions == sorted(positions)
    assert any(len(m.value) > BATCH_BYTES for m in messages)
    first = [env for env in map(Envelope.from_bytes, (m.value for m in messages)) if env.stream_id == ids[0]]
    assert [env.stream_version for env in first] == list(range(1, 9))
    with db.connect(settings) as conn:
        saved = dict(conn.execute("SELECT partition, kafka_offset FROM relay_partitions "
                                  "WHERE log = 'graphs'").fetchall())
    assert saved == {p: rows[-1][0] for p, rows in by_partition.items()}


async def test_second_relay_waits_for_the_first(settings, store):
    stop1, stop2 = asyncio.Event(), asyncio.Event()
    first, second = Relay(settings, store.context), Relay(settings, store.context)
    t1 = asyncio.create_task(first.run(stop1))
    await eventually(lambda: _flag(first.stats, "active"), message="first relay active")
    t2 = asyncio.create_task(second.run(stop2))
    await eventually(lambda: _flag(second.stats, "waiting_for_lock"), message="second relay waits")
    assert not second.stats.active
    await asyncio.to_thread(append_versions, store, 3, 1)
    await eventually(lambda: _published(first, 3))
    stop1.set()
    await t1
    # The waiting relay takes over once the first lets go, from the stored position.
    await eventually(lambda: _flag(second.stats, "active"), message="second relay takes over")
    await asyncio.to_thread(append_versions, store, 2, 1)
    await eventually(lambda: _published(second, 2))
    assert second.stats.published == 2
    stop2.set()
    await t2


async def _flag(stats, name):
    return getattr(stats, name)


async def test_relay_refills_a_broker_that_lost_its_data(settings, store, broker):
    if broker.proc is None:
        pytest.skip("needs the local broker to restart it")
    await asyncio.to_thread(append_versions, store, 4, 3)
    stop = asyncio.Event()
    relay = Relay(settings, store.context)
    task = asyncio.create_task(relay.run(stop))
    await eventually(lambda: _published(relay, 12))
    broker.restart()
    await asyncio.to_thread(append_versions, store, 1, 1)
    await eventually(lambda: _flag_ge(relay.stats, "refills", 1), timeout=30, message="relay refills")
    envs = await read_topic(settings, settings.topic("graphs"), expect=13, timeout=40)
    assert len({(e.stream_id, e.stream_version) for e in envs}) == 13
    stop.set()
    await task


async def _flag_ge(stats, name, n):
    return getattr(stats, name) >= n


async def _consume_and_checkpoint(settings, topic: str, context: str, *, expect: int, group: str) -> None:
    """A consumer group that reads ``expect`` records, commits them and saves its checkpoints,
    as the services' consumers do."""
    from services.infra.checkpoints import Checkpoints
    from services.infra.kafka import make_consumer

    checkpoints = Checkpoints(settings, group, {topic: context})
    await checkpoints.subscribe()
    consumer = make_consumer(settings, topic, group_id=group)
    await consumer.start()
    try:
        seen = 0
        for _ in range(300):
            batch = await consumer.getmany(timeout_ms=100)
            checkpoints.seen_batch(batch)
            seen += sum(len(m) for m in batch.values())
            if batch:
                await checkpoints.commit(consumer)
            if seen >= expect:
                break
        assert seen >= expect
    finally:
        await consumer.stop()
        await checkpoints.close()


@contextlib.asynccontextmanager
async def _relay_past_a_finished_group(settings, store):
    """12 events published by a running relay and finished by one subscribed consumer group;
    yields the relay and the 4 streams' ids."""
    ids = await asyncio.to_thread(append_versions, store, 4, 3)
    stop = asyncio.Event()
    relay = Relay(settings, store.context)
    task = asyncio.create_task(relay.run(stop))
    try:
        await eventually(lambda: _published(relay, 12))
        await _consume_and_checkpoint(settings, settings.topic("graphs"), "graphs", expect=12,
                                      group=f"{settings.topic_prefix}.t.done")
        yield relay, ids
    finally:
        stop.set()
        await task


async def test_a_refill_after_broker_loss_skips_what_every_group_finished(settings, store, broker):
    """Start-up independent of history: with a subscribed group that finished the first 12
    events, the emptied topic gets only what came after, not the whole log again."""
    if broker.proc is None:
        pytest.skip("needs the local broker to restart it")
    async with _relay_past_a_finished_group(settings, store) as (relay, ids):
        broker.restart()
        # a stream the group has a checkpoint for (a partition it never read holds a refill back to 0)
        await asyncio.to_thread(store.append, [NewEvent(ids[0], 4, ActiveVersionSet(version=4), user_id="u1")])
        await eventually(lambda: _flag_ge(relay.stats, "refills", 1), timeout=30, message="relay refills")
        envs = await read_topic(settings, settings.topic("graphs"), expect=3, timeout=8)  # waits the 8 s out
        # the new event (twice, if the relay published it before it saw the loss), nothing older
        assert {(e.stream_id, e.stream_version) for e in envs} == {(ids[0], 4)}


async def test_a_group_behind_holds_the_refill_back_to_its_checkpoint(settings, store, broker):
    if broker.proc is None:
        pytest.skip("needs the local broker to restart it")
    from services.infra.checkpoints import Checkpoints

    async with _relay_past_a_finished_group(settings, store) as (relay, _ids):
        # a second group subscribed to the log that never finished anything
        await Checkpoints(settings, f"{settings.topic_prefix}.t.slow", {settings.topic("graphs"): "graphs"}).subscribe()
        broker.restart()
        await asyncio.to_thread(append_versions, store, 1, 1)
        await eventually(lambda: _flag_ge(relay.stats, "refills", 1), timeout=30, message="relay refills")
        envs = await read_topic(settings, settings.topic("graphs"), expect=13, timeout=40)
        assert len({(e.stream_id, e.stream_version) for e in envs}) == 13  # the whole log again
