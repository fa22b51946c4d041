"""Where each consumer group stands in the store, per log partition, kept in PostgreSQL.

A consumer's committed Kafka offsets live in the broker. When the broker loses its data (the
local broker keeps nothing across restarts) the relay refills the topics from the store, and
without more to go on it would refill from position 0: every consumer re-reads the whole history
and start-up grows with the store. A checkpoint says, for one group and one partition of a log,
"every event of this partition up to this store position is finished": the position of the last
record below the group's committed offset. The relay refills from the lowest point every group
has finished (``refill_point``), so a restart replays only what was not finished.

Checkpoints are bookkeeping: one lost in a crash (they are saved about once a second, on commits
that skip the WAL flush) only moves the refill point back, never past unfinished work, because a
checkpoint is only ever written for offsets the group has committed.

A group records the logs it reads when it starts (``consumer_subscriptions``); a subscribed
group with no checkpoint for a partition that got events holds the refill back to 0, so a group
that never finished anything is never skipped past. Tables: migration 027.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Mapping

import psycopg

from services.infra import db
from services.infra.kafka_records import record_position
from services.infra.settings import Settings

log = logging.getLogger(__name__)
SAVE_EVERY_S = 1.0

_SUBSCRIBE = """
INSERT INTO consumer_subscriptions (consumer, log) SELECT %s, l FROM unnest(%s::text[]) AS l
ON CONFLICT DO NOTHING
"""
# Every subscribed group of a log with its checkpoints (a NULL partition: none yet)
SUBSCRIBED_CHECKPOINTS = """
SELECT s.consumer, c.partition, c.position FROM consumer_subscriptions s
LEFT JOIN consumer_checkpoints c ON c.consumer = s.consumer AND c.log = s.log
WHERE s.log = %s
"""
_SAVE = """
INSERT INTO consumer_checkpoints (consumer, log, partition, position, updated_at)
SELECT %s, l, p, pos, now() FROM unnest(%s::text[], %s::int[], %s::bigint[]) AS t(l, p, pos)
ON CONFLICT (consumer, log, partition) DO UPDATE SET position = EXCLUDED.position, updated_at = now()
"""


class Checkpoints:
    """One consumer group's checkpoints. The consumer calls ``seen`` for every record it takes,
    commits its offsets through ``commit`` (so a checkpoint can only follow a commit the broker
    took), and calls ``save`` (cheap when not due) from its loop; ``close`` saves what is left."""

    def __init__(self, settings: Settings, consumer: str, topics: Mapping[str, str]) -> None:
        self.settings = settings
        self.consumer = consumer
        self.logs = dict(topics)  # topic -> log (context)
        self._seen: dict[tuple[str, int], deque[tuple[int, int]]] = {}  # (topic, partition) -> (offset, position)
        self._done: dict[tuple[str, int], int] = {}  # (log, partition) -> position, not yet saved
        self._saved_at = 0.0
        self._conn: psycopg.AsyncConnection | None = None

    async def subscribe(self) -> None:
        """Record the logs this group reads (before it reads them: see the module docstring)."""
        conn = await db.aconnect(self.settings, autocommit=True)  # a durable commit, unlike the checkpoints'
        try:
            await conn.execute(_SUBSCRIBE, (self.consumer, sorted(set(self.logs.values()))))
        finally:
            await conn.close()

    async def _connection(self) -> psycopg.AsyncConnection:
        if self._conn is None or self._conn.closed:
            self._conn = await db.aconnect(self.settings, autocommit=True)
            await self._conn.execute("SET synchronous_commit = off")  # see the module docstring
        return self._conn

    def seen(self, tp, message) -> None:
        position = record_position(message)
        if position is not None:
            self._seen.setdefault((tp.topic, tp.partition), deque()).append((message.offset, position))

    def seen_batch(self, batch: Mapping) -> None:
        """Every record of a ``getmany`` answer."""
        for tp, messages in batch.items():
            for message in messages:
                self.seen(tp, message)

    async def commit(self, consumer, offsets: Mapping | None = None) -> None:
        """Commit ``offsets`` (topic-partition -> next offset; None: everything consumed) and,
        once the broker took them, mark what they finish. A refused commit raises as before."""
        if offsets is None:
            await consumer.commit()
        else:
            await consumer.commit(offsets)
        self.committed(offsets)

    def committed(self, offsets: Mapping | None = None) -> None:
        """After a commit of ``offsets`` (topic-partition -> next offset), or of everything seen."""
        keys = list(self._seen) if offsets is None else [(tp.topic, tp.partition) for tp in offsets]
        for key in keys:
            records = self._seen.get(key)
            if not records:
                continue
            upto = None if offsets is None else next(o for tp, o in offsets.items()
                                                   if (tp.topic, tp.partition) == key)
            finished = None
            while records and (upto is None or records[0][0] < upto):
                finished = records.popleft()[1]
            if finished is not None and key[0] in self.logs:
                self._done[(self.logs[key[0]], key[1])] = finished

    def forget(self, partitions) -> None:
        """Partitions this member no longer owns: their records come again to the next owner."""
        for tp in partitions:
            self._seen.pop((tp.topic, tp.partition), None)

    async def save(self, *, force: bool = False) -> None:
        if not self._done or (not force and time.monotonic() - self._saved_at < SAVE_EVERY_S):
            return
        done, self._done = self._done, {}
        try:
            conn = await self._connection()
            logs, parts, positions = zip(*((lg, p, pos) for (lg, p), pos in sorted(done.items())), strict=True)
            await conn.execute(_SAVE, (self.consumer, list(logs), list(parts), list(positions)))
            self._saved_at = time.monotonic()
        except (psycopg.Error, OSError) as exc:
            for key, position in done.items():  # kept for the next save; newer ones win
                self._done.setdefault(key, position)
            log.info("%s: checkpoints not saved (%s); the next save retries", self.consumer, exc)

    async def close(self) -> None:
        await self.save(force=True)
        if self._conn is not None:
            await self._conn.close()
            self._conn = None


def groups_of(rows) -> dict[str, dict[int, int]]:
    """``SUBSCRIBED_CHECKPOINTS`` rows as ``refill_point``'s groups: consumer -> partition -> position."""
    groups: dict[str, dict[int, int]] = {}
    for consumer, partition, position in rows:
        marks = groups.setdefault(consumer, {})
        if partition is not None:
            marks[int(partition)] = int(position)
    return groups


def refill_point(head: int, published: Mapping[int, int], groups: Mapping[str, Mapping[int, int]]) -> int:
    """The store position a relay refilling an emptied topic starts after.

    ``head``: the relay's position (every event up to it was published); ``published``: per
    partition, the last position published there; ``groups``: per consumer group, its checkpoint
    per partition. A group that finished everything published to a partition holds nothing back
    there; otherwise it holds the refill back to its checkpoint (0 if it has none for a partition
    that got events). With no checkpoints at all (an installation older than them, or none has
    finished anything yet) the refill starts from 0, as a full replay."""
    if not groups:
        return 0
    point = head
    for checkpoints in groups.values():
        for partition, last in published.items():
            finished = checkpoints.get(partition, 0)
            point = min(point, head if finished >= last else finished)
    return point
