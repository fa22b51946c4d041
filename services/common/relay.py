"""The outbox relay: publishes every recorded event of one log to its Kafka topic, in order.

The store's notification log *is* the outbox (no dual writes). The relay reads it after its
stored position, publishes each event keyed by stream id (so one stream stays ordered on one
partition), waits for the broker's acknowledgement of the whole batch and only then records the
new position: delivery is at-least-once, and a crash re-publishes at most one batch.

Exactly one relay is active per log: it holds a PostgreSQL advisory lock on a dedicated session;
a second instance waits for the lock. If the broker lost its data (the local broker keeps nothing
across restarts), the relay notices an empty topic behind a non-zero position and refills the
topic from position 0.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import psycopg
from aiokafka.errors import KafkaError

from services.common import db
from schemas.envelope import envelope_bytes
from services.common.eventstore import EventStore
from services.common.kafka import ensure_topics, make_producer, recreate_topic, topic_end_offsets
from services.common.settings import Settings

log = logging.getLogger(__name__)
PUBLISH_TIMEOUT_S = 5.0
INTEGRITY_CHECK_S = 3.0
LINGER_S = 0.002


@dataclass
class RelayStats:
    published: int = 0
    batches: int = 0
    refills: int = 0
    position: int = 0
    active: bool = False
    waiting_for_lock: bool = False
    extra: dict = field(default_factory=dict)


class BrokerLostData(Exception):
    """The broker handed out an offset below one it gave before: it restarted empty."""


class Relay:
    def __init__(self, settings: Settings, store: EventStore, *, batch_size: int = 1000) -> None:
        self.settings = settings
        self.store = store
        self.context = store.context
        self.topic = settings.topic(store.context)
        self.batch_size = batch_size
        self.stats = RelayStats()
        self._wake = asyncio.Event()
        self._last_offsets: dict[int, int] = {}
        self._lost_data = False

    # -- lock ---------------------------------------------------------------------------------

    def _lock_key(self) -> str:
        return f"{self.settings.db_schema}:relay:{self.context}"

    async def _acquire_lock(self, stop: asyncio.Event) -> psycopg.AsyncConnection | None:
        conn = await db.aconnect(self.settings, autocommit=True)
        announced = False
        while not stop.is_set():
            row = await (await conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (self._lock_key(),))).fetchone()
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
        row = await (await conn.execute("SELECT position FROM relay_positions WHERE log = %s", (self.context,))).fetchone()
        return int(row[0])

    async def _save_position(self, conn: psycopg.AsyncConnection, position: int,
                             partitions: dict[int, tuple[int, int]]) -> None:
        async with conn.transaction():
            # Losing this update in a database crash only means re-publishing a batch (consumers
            # deduplicate), so it need not wait for the WAL flush that the event commits pay for.
            await conn.execute("SET LOCAL synchronous_commit TO OFF")
            await conn.execute("UPDATE relay_positions SET position = %s, updated_at = now() WHERE log = %s",
                               (position, self.context))
            for partition, (pos, offset) in partitions.items():
                await conn.execute(
                    "INSERT INTO relay_partitions (log, partition, position, kafka_offset) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (log, partition) DO UPDATE SET "
                    "position = GREATEST(relay_partitions.position, EXCLUDED.position), "
                    "kafka_offset = EXCLUDED.kafka_offset",
                    (self.context, partition, pos, offset))

    async def _published_offsets(self, conn: psycopg.AsyncConnection) -> dict[int, int]:
        rows = await (await conn.execute("SELECT partition, kafka_offset FROM relay_partitions WHERE log = %s",
                                         (self.context,))).fetchall()
        return {int(p): int(o) for p, o in rows}

    async def _reset_position(self, conn: psycopg.AsyncConnection) -> None:
        async with conn.transaction():
            await conn.execute("UPDATE relay_positions SET position = 0 WHERE log = %s", (self.context,))
            await conn.execute("DELETE FROM relay_partitions WHERE log = %s", (self.context,))

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
                    await self._reset_position(lock_conn)
                    self.stats.refills += 1
                    self._lost_data = True
                except (KafkaError, OSError, asyncio.TimeoutError) as exc:
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
            await self._reset_position(conn)
            self.stats.refills += 1
            self._lost_data = True
            position = 0
        if self._lost_data and len(offsets) != self.settings.topic_partitions:
            log.warning("relay %s: %s came back with %d partitions; recreating it with %d",
                        self.context, self.topic, len(offsets), self.settings.topic_partitions)
            await recreate_topic(self.settings, self.topic)
        self._lost_data = False
        return position

    async def _publish_until_stopped(self, conn: psycopg.AsyncConnection, stop: asyncio.Event) -> None:
        position = await self._prepare_topic(conn, await self._load_position(conn))
        producer = make_producer(self.settings)
        await producer.start()
        checked = asyncio.get_running_loop().time()
        try:
            while not stop.is_set():
                await conn.execute("SELECT 1")  # the lock's session must still be alive
                if asyncio.get_running_loop().time() - checked > INTEGRITY_CHECK_S:
                    await self._check_broker_kept_data(conn)
                    checked = asyncio.get_running_loop().time()
                batch = await asyncio.to_thread(self.store.read_log_raw, after=position, limit=self.batch_size)
                if not batch:
                    self._wake.clear()
                    await _wait_or_stop(stop, 0.5, self._wake)
                    await asyncio.sleep(LINGER_S)  # let a burst of commits gather into one batch
                    continue
                partitions = await self._publish(producer, batch)
                position = batch[-1][0]
                await self._save_position(conn, position, partitions)
                self.stats.position = position
                self.stats.published += len(batch)
                self.stats.batches += 1
        finally:
            try:
                await asyncio.wait_for(producer.stop(), timeout=2.0)
            except asyncio.TimeoutError:
                log.warning("relay %s: producer did not stop cleanly", self.context)

    async def _check_broker_kept_data(self, conn: psycopg.AsyncConnection) -> None:
        """A broker that restarted empty may take new events on partitions it never had before,
        so offsets seen while publishing do not always go backwards; look for partitions that
        held acknowledged messages and are empty now."""
        offsets = await topic_end_offsets(self.settings, self.topic)
        if _emptied(offsets, await self._published_offsets(conn)):
            raise BrokerLostData()

    async def _publish(self, producer, batch: list[tuple]) -> dict[int, tuple[int, int]]:
        futures = []
        for position, stream_id, version, type_name, state in batch:
            futures.append(await producer.send(
                self.topic, key=str(stream_id).encode(),
                value=envelope_bytes(stream_id, version, position, type_name, state),
                headers=[("type", type_name.encode())]))
        # A broker that restarted empty keeps the producer retrying; give up and re-check instead.
        metadata = await asyncio.wait_for(asyncio.gather(*futures), timeout=PUBLISH_TIMEOUT_S)
        partitions: dict[int, tuple[int, int]] = {}
        lost = False
        for (position, *_), meta in zip(batch, metadata):
            partitions[meta.partition] = (position, meta.offset)
            lost = lost or meta.offset <= self._last_offsets.get(meta.partition, -1)
            self._last_offsets[meta.partition] = meta.offset
        if lost:
            raise BrokerLostData()
        return partitions

    async def _listen(self, stop: asyncio.Event) -> None:
        """Wake the publisher on every commit to the log (PostgreSQL NOTIFY from the recorder)."""
        while not stop.is_set():
            try:
                conn = await db.aconnect(self.settings, autocommit=True)
                try:
                    await conn.execute(f'LISTEN "{self.store.table}"')
                    async for _ in conn.notifies():
                        self._wake.set()
                finally:
                    await conn.close()
            except (psycopg.Error, OSError) as exc:
                log.debug("relay listener reconnecting: %s", exc)
                await _wait_or_stop(stop, 1.0)


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
            await conn.execute("UPDATE relay_positions SET position = 0 WHERE log = %s", (context,))
            await conn.execute("DELETE FROM relay_partitions WHERE log = %s", (context,))
    finally:
        await conn.close()
