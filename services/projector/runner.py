"""The projector service: consumes the context topics in a consumer group and keeps the read
models current.

Each fetched batch is applied in one PostgreSQL transaction together with the per-stream versions
and per-partition positions; Kafka offsets are committed only after that transaction commits.
A crash in between replays the batch, and the per-stream versions make the replay a no-op.
After the commit a NOTIFY tells query APIs which streams changed (WebSocket fan-out).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone

import orjson
import psycopg
from aiokafka.errors import KafkaError

from schemas.envelope import Envelope
from schemas.topics import CONTEXTS
from services.common import db
from services.common.kafka import ensure_topics, make_consumer
from services.common.settings import Settings
from services.projector.applier import apply_envelopes
from services.projector.registry import HANDLERS, PROJECTION_NAME

log = logging.getLogger(__name__)


def group_id(settings: Settings) -> str:
    """``<prefix>.projector.read-models``: one group per installation sharing a broker."""
    return f"{settings.topic_prefix}.projector.read-models"


def notify_channel(settings: Settings) -> str:
    return f"agentloom_rm_{settings.db_schema}"


@dataclass
class ProjectorStats:
    applied: int = 0
    duplicates: int = 0
    batches: int = 0
    ready: bool = False
    # Seconds from an event's recording to its projection commit, for the last events applied.
    lags: deque = field(default_factory=lambda: deque(maxlen=2000))

    def lag_quantiles(self) -> dict[str, float]:
        if not self.lags:
            return {"lag_p50_ms": 0.0, "lag_p99_ms": 0.0}
        ordered = sorted(self.lags)
        pick = lambda q: ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1)))] * 1000  # noqa: E731
        return {"lag_p50_ms": round(pick(0.5), 2), "lag_p99_ms": round(pick(0.99), 2)}


class Projector:
    def __init__(self, settings: Settings, *, contexts: tuple[str, ...] = CONTEXTS) -> None:
        self.settings = settings
        self.contexts = tuple(c for c in contexts if c in HANDLERS)
        self.topics = {settings.topic(c): c for c in self.contexts}
        self.stats = ProjectorStats()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._consume(stop)
            except (KafkaError, OSError, psycopg.OperationalError) as exc:
                self.stats.ready = False
                log.warning("projector: %s; reconnecting", exc)
                await asyncio.sleep(1.0)

    async def _consume(self, stop: asyncio.Event) -> None:
        await ensure_topics(self.settings, self.contexts)
        consumer = make_consumer(self.settings, *self.topics, group_id=group_id(self.settings))
        conn = await db.aconnect(self.settings)
        await consumer.start()
        try:
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=200, max_records=1000)
                self.stats.ready = bool(consumer.assignment())
                if batch:
                    await self._apply_batch(conn, batch)
                    await consumer.commit()
        finally:
            self.stats.ready = False
            await consumer.stop()
            await conn.close()

    async def _apply_batch(self, conn: psycopg.AsyncConnection, batch) -> None:
        changed: dict[str, int] = {}
        occurred: list[datetime] = []
        async with conn.transaction(), conn.pipeline():
            async with conn.cursor() as cur:
                for tp, messages in batch.items():
                    context = self.topics[tp.topic]
                    envelopes = _parse(messages)
                    if not envelopes:
                        continue
                    occurred.extend(env.occurred_at for env in envelopes)
                    applied, duplicates = await apply_envelopes(cur, context, envelopes)
                    self.stats.applied += len(applied)
                    self.stats.duplicates += duplicates
                    for env in applied:
                        changed[str(env.stream_id)] = env.stream_version
                    await cur.execute(
                        "INSERT INTO projection_partitions (projection, log, partition, position) "
                        "VALUES (%s, %s, %s, %s) ON CONFLICT (projection, log, partition) "
                        "DO UPDATE SET position = GREATEST(projection_partitions.position, EXCLUDED.position)",
                        (PROJECTION_NAME, context, tp.partition, max(env.position for env in envelopes)))
                if changed:
                    await cur.execute("SELECT pg_notify(%s, %s)",
                                      (notify_channel(self.settings), orjson.dumps(changed).decode()[:7900]))
        committed = datetime.now(timezone.utc)
        self.stats.lags.extend((committed - at).total_seconds() for at in occurred)
        self.stats.batches += 1


def _parse(messages) -> list[Envelope]:
    """Envelopes of a partition's messages; a message that is not one is logged and skipped
    (a foreign producer must not stop the read models)."""
    out = []
    for message in messages:
        try:
            out.append(Envelope.from_bytes(message.value))
        except (ValueError, TypeError) as exc:
            log.error("skipping a malformed message at %s/%d offset %d: %s", message.topic, message.partition,
                      message.offset, str(exc)[:200])
    return out
