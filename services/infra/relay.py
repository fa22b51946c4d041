"""The outbox relay: publishes every recorded event of one log to its Kafka topic, in order.

The store's notification log *is* the outbox (no dual writes). The relay reads it after its
stored position, publishes each event keyed by stream id (so one stream stays ordered on one
partition), waits for the broker's acknowledgement of the whole batch and only then records the
new position: delivery is at-least-once, and a crash re-publishes at most one batch.

Exactly one relay is active per log: it holds a PostgreSQL advisory lock on a dedicated session;
a second instance waits for the lock. If the broker lost its data (the local broker keeps nothing
across restarts), the relay notices an empty topic behind a non-zero position and refills the
topic from the store: from the lowest point every consumer group subscribed to the log has
finished (``checkpoints.py``), so a restart does not replay what is done.

A record the producer or the broker refuses for what it is (too large, malformed) is poison, not
broker trouble: retrying it would wedge the log for everyone (audit F2). It is parked as a dead
letter and the relay moves on, holding later records of its stream behind it; about once a
second the relay acts on operator decisions (``retry``/``skip``). That bookkeeping lives in
``relay_quarantine.py``; this module publishes and tells it what the broker refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from dataclasses import dataclass, field

import psycopg
from aiokafka.errors import KafkaError

from services.infra import db, event_log
from services.infra.checkpoints import SUBSCRIBED_CHECKPOINTS, groups_of, refill_point
from services.infra.event_codec import StoredRow, envelope_bytes
from services.infra.kafka import (
    BATCH_BYTES,
    EndOffsetReader,
    broker_message_limit,
    ensure_topics,
    make_producer,
    partition_for_key,
    record_limit,
    recreate_topic,
    topic_end_offsets,
)
from services.infra.kafka_records import POSITION_HEADER, TYPE_HEADER
from services.infra.relay_quarantine import RelayQuarantine, describe, is_poison
from services.infra.settings import Settings
from services.infra.store_contract import table_name

log = logging.getLogger(__name__)
PUBLISH_TIMEOUT_S = 5.0
INTEGRITY_CHECK_S = 3.0
LINGER_S = 0.002
DECISIONS_POLL_S = 1.0
# Records larger than this go to the producer alone (``send``), smaller ones in record batches
# of at most ``BATCH_BYTES`` built by the relay: any record up to it fits in an empty batch.
ALONE_BYTES = BATCH_BYTES // 4


@dataclass
class RelayStats:
    published: int = 0
    batches: int = 0
    refills: int = 0
    position: int = 0
    active: bool = False
    waiting_for_lock: bool = False
    parked: int = 0          # records this process parked (poison or held behind one)
    held_streams: int = 0
    record_limit: int = 0    # the producer's max_request_size
    broker_limit: int | None = None
    extra: dict = field(default_factory=dict)


class BrokerLostData(Exception):
    """The broker handed out an offset below one it gave before: it restarted empty."""


class Relay:
    def __init__(self, settings: Settings, context: str, *, batch_size: int = 1000) -> None:
        self.settings = settings
        self.context = context
        self.topic = settings.topic(context)
        self.batch_size = batch_size
        self.stats = RelayStats()
        self._wake = asyncio.Event()
        self._last_offsets: dict[int, int] = {}
        self._lost_data = False
        self.quarantine = RelayQuarantine(context, table_name(context), self.stats)
        self._limit: int | None = None

    # -- lock ---------------------------------------------------------------------------------

    def _lock_key(self) -> str:
        return f"{self.settings.db_schema}:relay:{self.context}"

    async def _acquire_lock(self, stop: asyncio.Event) -> psycopg.AsyncConnection | None:
        conn = await db.aconnect(self.settings, autocommit=True)
        announced = False
        while not stop.is_set():
            row = await (await conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))",
                                            (self._lock_key(),))).fetchone()
            if row and row[0]:
                self.stats.waiting_for_lock = False
                return conn
            if not announced:
                log.info("relay for %s waits: another relay holds the log", self.context)
                announced = True
            self.stats.waiting_for_lock = True
            await _wait_or_stop(stop, 1.0)
        await conn.close()
        return None

    # -- positions ----------------------------------------------------------------------------

    async def _load_position(self, conn: psycopg.AsyncConnection) -> int:
        await conn.execute(
            "INSERT INTO relay_positions (log, position) VALUES (%s, 0) ON CONFLICT (log) DO NOTHING",
            (self.context,))
        row = await (await conn.execute("SELECT position FROM relay_positions WHERE log = %s",
                                        (self.context,))).fetchone()
        return int(row[0])

    async def _save_position(self, conn: psycopg.AsyncConnection, position: int,
                             partitions: dict[int, tuple[int, int]], parked: list | None = None) -> None:
        # One round trip where there is nothing to park: the statements go out as one pipeline.
        async with (contextlib.nullcontext() if parked else conn.pipeline()), conn.transaction():
            if parked:
                # Parking and moving past the parked records commit together (never lost, never
                # published half-way): a record is stepped over only once it is a dead letter.
                await self.quarantine.park(conn, parked)
            else:
                # Losing this update in a database crash only means re-publishing a batch (consumers
                # deduplicate), so it need not wait for the WAL flush that the event commits pay for.
                await conn.execute("SET LOCAL synchronous_commit TO OFF")
            await conn.execute("UPDATE relay_positions SET position = %s, updated_at = now() WHERE log = %s",
                               (position, self.context))
            await self._save_partitions(conn, partitions)

    async def _save_partitions(self, conn: psycopg.AsyncConnection, partitions: dict[int, tuple[int, int]]) -> None:
        for partition, (pos, offset) in partitions.items():
            await conn.execute(
                "INSERT INTO relay_partitions (log, partition, position, kafka_offset) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (log, partition) DO UPDATE SET "
                "position = GREATEST(relay_partitions.position, EXCLUDED.position), "
                "kafka_offset = EXCLUDED.kafka_offset",
                (self.context, partition, pos, offset))

    async def _send(self, producer, record: StoredRow):
        """Hand one record to the producer alone, on the partition ``_publish`` places its
        stream's records."""
        stream_id = str(record.stream_id)
        key = stream_id.encode()
        partitions = sorted(await producer.partitions_for(self.topic))
        return await producer.send(self.topic, key=key, value=envelope_bytes(record, stream_id),
                                   partition=partition_for_key(key, partitions, partitions), headers=_headers(record))

    async def _send_and_wait(self, producer, record: StoredRow):
        """Publish one record alone and wait for the broker's acknowledgement (its metadata)."""
        return await asyncio.wait_for(await self._send(producer, record), timeout=PUBLISH_TIMEOUT_S)

    async def _record_published(self, conn: psycopg.AsyncConnection, position: int, meta) -> None:
        """A record published outside a batch (a released dead letter): remember its offset."""
        self._last_offsets[meta.partition] = max(meta.offset, self._last_offsets.get(meta.partition, -1))
        await self._save_partitions(conn, {meta.partition: (position, meta.offset)})

    async def _check_limits(self) -> int:
        """The producer's record limit: the configured cap, lowered to what the broker accepts
        (so an oversize record is always refused by the producer, never half-way by the broker)."""
        limit = record_limit(self.settings)
        broker = await broker_message_limit(self.settings, self.topic)
        self.stats.broker_limit = broker
        if broker is None:
            log.info("relay %s: the broker does not report message.max.bytes; records up to %d bytes are sent",
                     self.context, limit)
        elif broker < limit:
            log.error("relay %s: AGENTLOOM_MAX_EVENT_BYTES (%d) plus the envelope (%d bytes) is above the broker's "
                      "record limit (%d bytes): events larger than that will be parked as dead letters. Raise the "
                      "broker's message.max.bytes / max.message.bytes or lower AGENTLOOM_MAX_EVENT_BYTES.",
                      self.context, self.settings.max_event_bytes, limit, broker)
            limit = broker
        self.stats.record_limit = limit
        return limit

    async def _published_offsets(self, conn: psycopg.AsyncConnection) -> dict[int, int]:
        rows = await (await conn.execute("SELECT partition, kafka_offset FROM relay_partitions WHERE log = %s",
                                         (self.context,))).fetchall()
        return {int(p): int(o) for p, o in rows}

    async def _refill_position(self, conn: psycopg.AsyncConnection) -> int:
        """The broker lost this log's topic: publish again what some consumer group has not
        finished (``checkpoints.refill_point``), not the whole log. Returns the new position."""
        async with conn.transaction():
            head, partitions = await (await conn.execute(
                "SELECT position, partitions FROM relay_positions WHERE log = %s", (self.context,))).fetchone()
            published = {int(p): int(pos) for p, pos in await (await conn.execute(
                "SELECT partition, position FROM relay_partitions WHERE log = %s", (self.context,))).fetchall()}
            groups = groups_of(await (await conn.execute(SUBSCRIBED_CHECKPOINTS, (self.context,))).fetchall())
            if partitions != self.settings.topic_partitions:
                # Another partition count sends streams to other partitions: the checkpoints,
                # kept per partition, say nothing about the new ones.
                await conn.execute("DELETE FROM consumer_checkpoints WHERE log = %s", (self.context,))
                groups = {consumer: {} for consumer in groups}
            head = int(head)
            point = refill_point(head, published, groups)
            await _forget_positions(conn, self.context)
            await conn.execute("UPDATE relay_positions SET position = %s WHERE log = %s", (point, self.context))
        log.warning("relay %s: refilling %s with the %d of %d events some subscribed consumer group had not "
                    "finished (those after position %d)", self.context, self.topic, head - point, head, point)
        return point

    # -- main loop ----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        lock_conn = await self._acquire_lock(stop)
        if lock_conn is None:
            return
        self.stats.active = True
        listener = asyncio.create_task(self._listen(stop))
        try:
            while not stop.is_set():
                try:
                    await self._publish_until_stopped(lock_conn, stop)
                except BrokerLostData:
                    log.warning("relay %s: the broker lost its data; refilling %s from the store",
                                self.context, self.topic)
                    await self._refill_position(lock_conn)
                    self.stats.refills += 1
                    self._lost_data = True
                except (TimeoutError, KafkaError, OSError) as exc:
                    log.warning("relay %s: broker unavailable (%s); retrying", self.context, exc)
                    await _wait_or_stop(stop, 1.0)
        finally:
            self.stats.active = False
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
            await lock_conn.close()

    async def _prepare_topic(self, conn: psycopg.AsyncConnection, position: int) -> int:
        """Create the topic if needed; if the broker lost everything, start over from 0."""
        await ensure_topics(self.settings, (self.context,))
        self._last_offsets = {}
        offsets = await topic_end_offsets(self.settings, self.topic)
        published = await self._published_offsets(conn)
        behind = _emptied(offsets, published)
        if position > 0 and behind:
            log.warning("relay %s: topic %s ends before offsets the broker acknowledged (partitions %s); "
                        "the broker lost its data, refilling from the store", self.context, self.topic, behind)
            position = await self._refill_position(conn)
            self.stats.refills += 1
            self._lost_data = True
        partitions = len(offsets)
        if self._lost_data and partitions != self.settings.topic_partitions:
            log.warning("relay %s: %s came back with %d partitions; recreating it with %d",
                        self.context, self.topic, partitions, self.settings.topic_partitions)
            await recreate_topic(self.settings, self.topic)
            partitions = self.settings.topic_partitions
        self._lost_data = False
        # what the checkpoints of this incarnation are per (``_refill_position``)
        await conn.execute("UPDATE relay_positions SET partitions = %s WHERE log = %s", (partitions, self.context))
        return position

    async def _publish_until_stopped(self, conn: psycopg.AsyncConnection, stop: asyncio.Event) -> None:
        position = await self._prepare_topic(conn, await self._load_position(conn))
        if self._limit is None:
            self._limit = await self._check_limits()
        producer = make_producer(self.settings, max_request_size=self._limit)
        await producer.start()
        offsets = EndOffsetReader(self.settings)
        loop = asyncio.get_running_loop()
        checked, polled = loop.time(), float("-inf")
        try:
            while not stop.is_set():
                # (the lock's session is checked by the read below, made on it: a dead one raises)
                now = loop.time()
                if now - checked > INTEGRITY_CHECK_S:
                    await self._check_broker_kept_data(conn, offsets)
                    checked = now
                if now - polled >= DECISIONS_POLL_S:
                    await self.quarantine.act_on_decisions(conn, functools.partial(self._send_and_wait, producer),
                                                          self._record_published)
                    polled = now
                batch = await event_log.rows_after(conn, self.context, position, self.batch_size)
                if not batch:
                    self._wake.clear()
                    await _wait_or_stop(stop, 0.5, self._wake)
                    await asyncio.sleep(LINGER_S)  # let a burst of commits gather into one batch
                    continue
                partitions, parked = await self._publish(producer, batch)
                position = batch[-1][0]
                await self._save_position(conn, position, partitions, parked)
                self.stats.position = position
                self.stats.published += len(batch)
                self.stats.batches += 1
        finally:
            await offsets.close()
            try:
                await asyncio.wait_for(producer.stop(), timeout=2.0)
            except TimeoutError:
                log.warning("relay %s: producer did not stop cleanly", self.context)

    async def _check_broker_kept_data(self, conn: psycopg.AsyncConnection, reader: EndOffsetReader) -> None:
        """A broker that restarted empty may take new events on partitions it never had before,
        so offsets seen while publishing do not always go backwards; look for partitions that
        held acknowledged messages and are empty now."""
        offsets = await reader.end_offsets(self.topic)
        if _emptied(offsets, await self._published_offsets(conn)):
            raise BrokerLostData()

    async def _publish(self, producer, batch: list[tuple]) -> tuple[dict[int, tuple[int, int]], list]:
        """Publish a batch; returns the partitions written and the records to park (poison ones
        with their error, and later records of their streams, held behind them, with None).

        Records go to the producer in record batches built here, one open batch per partition,
        so the producer makes one future per batch, not per record (a third of the relay's CPU
        went to ``send`` per record). Every record is placed by ``partition_for_key``, batched or
        not; a large one goes through ``send`` alone, after its partition's
        open batch, so the producer's own size check refuses an oversize record as before and
        each partition's records still reach the producer in log order."""
        sent: list[tuple[list, asyncio.Future]] = []  # the records of each producer batch, in order
        parked, holding = [], set()
        held = self.quarantine.held
        partitions = sorted(await producer.partitions_for(self.topic))
        building: dict[int, tuple] = {}  # partition -> (its open record batch, the records in it)

        async def flush(partition: int) -> None:
            builder, records = building.pop(partition)
            sent.append((records, await producer.send_batch(builder, self.topic, partition=partition)))

        for record in batch:
            position, stream_id = record[0], str(record[1])
            if position in held.skipped or position in held.open_positions:
                continue  # stepped over for good, or already parked (a refill from 0)
            if stream_id in held.streams or stream_id in holding:
                parked.append((record, None))
                continue
            key, value, headers = stream_id.encode(), envelope_bytes(record, stream_id), _headers(record)
            partition = partition_for_key(key, partitions, partitions)
            if len(value) > ALONE_BYTES:
                if partition in building:
                    await flush(partition)
                try:
                    sent.append(([record], await producer.send(self.topic, key=key, value=value,
                                                               partition=partition, headers=headers)))
                except Exception as exc:  # noqa: BLE001 - _park_poison raises again what is not poison
                    _park_poison(exc, record, stream_id, parked, holding)
                continue
            open_batch = building.get(partition)
            if open_batch is None or open_batch[0].append(key=key, value=value, timestamp=None,
                                                          headers=headers) is None:  # none yet, or full
                if open_batch is not None:
                    await flush(partition)
                open_batch = building[partition] = (producer.create_batch(), [])
                open_batch[0].append(key=key, value=value, timestamp=None, headers=headers)
            open_batch[1].append(record)
        for partition in list(building):
            await flush(partition)
        # A broker that restarted empty keeps the producer retrying; give up and re-check instead.
        results = await asyncio.wait_for(asyncio.gather(*(f for _, f in sent), return_exceptions=True),
                                         timeout=PUBLISH_TIMEOUT_S)
        published, refused = [], []
        for (records, _), result in zip(sent, results):
            if isinstance(result, BaseException):
                if not is_poison(result):
                    raise result
                refused += [(record, result) for record in records]
            else:  # a batch's records have consecutive offsets from the batch's first
                published += [(record, result.partition, result.offset + i) for i, record in enumerate(records)]
        if refused:
            # The broker refuses a whole record batch: send each refused record alone to tell the
            # poison from its innocent neighbours.
            published += [(record, meta.partition, meta.offset)
                          for record, meta in await self._resend_alone(producer, refused, parked, holding)]
            parked.sort(key=lambda item: item[0][0])
        written: dict[int, tuple[int, int]] = {}
        lost = False
        for (position, *_), partition, offset in sorted(published, key=lambda item: item[2]):
            previous = written.get(partition)
            written[partition] = (max(position, previous[0]) if previous else position, offset)
            lost = lost or offset <= self._last_offsets.get(partition, -1)
            self._last_offsets[partition] = offset
        if lost:
            raise BrokerLostData()
        return written, parked

    async def _resend_alone(self, producer, refused: list, parked: list, holding: set) -> list:
        published = []
        for record, _first_error in refused:
            stream_id = str(record[1])
            if stream_id in holding or stream_id in self.quarantine.held.streams:
                parked.append((record, None))
                continue
            try:
                meta = await self._send_and_wait(producer, record)
            except Exception as exc:  # noqa: BLE001 - _park_poison raises again what is not poison
                _park_poison(exc, record, stream_id, parked, holding)
                continue
            published.append((record, meta))
        later = [r for r, _ in published if str(r[1]) in holding]
        if later:
            log.warning("relay %s: the broker refused a record after accepting later ones of its stream (%s); "
                        "consumers fill the gap from the store", self.context, later[0][1])
        return published

    async def _listen(self, stop: asyncio.Event) -> None:
        """Wake the publisher on every commit to the log (PostgreSQL NOTIFY from the recorder)."""
        while not stop.is_set():
            try:
                conn = await db.aconnect(self.settings, autocommit=True)
                try:
                    await event_log.listen(conn, self.context)
                    async for _ in conn.notifies():
                        self._wake.set()
                finally:
                    await conn.close()
            except (psycopg.Error, OSError) as exc:
                log.debug("relay listener reconnecting: %s", exc)
                await _wait_or_stop(stop, 1.0)


def _park_poison(exc: Exception, record, stream_id: str, parked: list, holding: set) -> None:
    """A record the producer or broker refused: parked with its error when it is poison, and
    its stream held behind it; anything else (broker trouble) is raised again."""
    if not is_poison(exc):
        raise exc
    parked.append((record, describe(exc)))
    holding.add(stream_id)


def _headers(record: StoredRow) -> list[tuple[str, bytes]]:
    return [(TYPE_HEADER, record.type.encode()), (POSITION_HEADER, str(record.position).encode())]


def _emptied(end_offsets: dict[int, int], acknowledged: dict[int, int]) -> list[int]:
    """Partitions the broker acknowledged messages on that are now empty.

    (Only emptiness is trusted: the local broker's end offsets are not exact for multi-record
    batches, so "fewer than acknowledged" would raise false alarms.)"""
    return [p for p, last in acknowledged.items() if last >= 0 and end_offsets.get(p, 0) == 0]


async def _wait_or_stop(stop: asyncio.Event, timeout: float, other: asyncio.Event | None = None) -> None:
    waiters = [asyncio.ensure_future(stop.wait())]
    if other is not None:
        waiters.append(asyncio.ensure_future(other.wait()))
    done, pending = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()


async def reset_positions(settings: Settings, contexts: list[str]) -> None:
    """Make the relays re-publish whole logs (refill topics from the store) on their next start."""
    conn = await db.aconnect(settings, autocommit=True)
    try:
        for context in contexts:
            await _forget_positions(conn, context)
    finally:
        await conn.close()


async def _forget_positions(conn: psycopg.AsyncConnection, context: str) -> None:
    """Back to position 0 with no partition offsets: the relay re-publishes the whole log."""
    await conn.execute("UPDATE relay_positions SET position = 0 WHERE log = %s", (context,))
    await conn.execute("DELETE FROM relay_partitions WHERE log = %s", (context,))
