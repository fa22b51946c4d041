"""The projector service: consumes the context topics in a consumer group and keeps the read
models current.

Each fetched batch is applied in one PostgreSQL transaction together with the per-stream versions
and per-partition positions; Kafka offsets are committed only after that transaction commits.
A crash in between replays the batch, and the per-stream versions make the replay a no-op.
It sends no NOTIFY: read fences look at ``projection_streams`` and ``projection_partitions``, and
the WebSocket hub tails the store itself (one it sent per batch had had no listener since).

A batch that fails for any reason but connection trouble is applied again event by event and
the event that fails is parked as a dead letter; its stream waits for an operator while every
other stream goes on (``quarantine.py``). Operator decisions are picked up about once a second.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
from aiokafka.errors import KafkaError

from schemas.envelope import Envelope
from schemas.topics import CONTEXTS
from services.infra import db
from services.infra.checkpoints import Checkpoints
from services.infra.consumer_loop import consume_until_stopped
from services.infra.kafka import ensure_topics, make_consumer
from services.infra.settings import Settings
from services.projector import quarantine
from services.projector.applier import apply_envelopes, is_not_next
from services.projector.names import PROJECTION_NAME
from services.projector.registry import PROJECTIONS

log = logging.getLogger(__name__)
DECISIONS_POLL_S = 1.0


def group_id(settings: Settings) -> str:
    """``<prefix>.projector.read-models``: one group per installation sharing a broker."""
    return f"{settings.topic_prefix}.projector.read-models"


@dataclass
class ProjectorStats:
    applied: int = 0
    duplicates: int = 0
    batches: int = 0
    ready: bool = False
    parked: int = 0           # dead letters this process recorded
    held: int = 0             # events not applied because their stream waits behind a dead letter
    blocked_streams: int = 0
    not_next: int = 0         # batches applied again the careful way (a stream did not continue)
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
        self.contexts = tuple(c for c in contexts if c in PROJECTIONS)
        self.topics = {settings.topic(c): c for c in self.contexts}
        self.stats = ProjectorStats()
        self.quarantine = quarantine.Quarantine()

    async def run(self, stop: asyncio.Event) -> None:
        await consume_until_stopped("projector", self._consume, stop, on_down=self._down)

    def _down(self) -> None:
        self.stats.ready = False

    async def _consume(self, stop: asyncio.Event) -> None:
        await ensure_topics(self.settings, self.contexts)
        checkpoints = Checkpoints(self.settings, group_id(self.settings), self.topics)
        await checkpoints.subscribe()
        consumer = make_consumer(self.settings, *self.topics, group_id=group_id(self.settings))
        conn = await db.aconnect(self.settings)
        await consumer.start()
        # The last applied batch's offsets on their way to the broker while the next batch is
        # fetched and applied: the broker's round trip is off the read models' path. Offsets are
        # named per batch (never "everything consumed", which would take in a batch fetched but
        # not applied yet), and each commit waits for the one before, so they land in order.
        commit: asyncio.Task | None = None
        try:
            polled = await self._act_on_decisions(conn)
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=200, max_records=1000)
                self.stats.ready = bool(consumer.assignment())
                if batch:
                    checkpoints.seen_batch(batch)
                    await self._apply_batch(conn, batch)
                    if commit is not None:
                        await commit
                    commit = asyncio.create_task(_commit(consumer, checkpoints, batch))
                elif commit is not None:
                    await commit
                    commit = None
                await checkpoints.save()
                if asyncio.get_running_loop().time() - polled >= DECISIONS_POLL_S:
                    polled = await self._act_on_decisions(conn)
        finally:
            self.stats.ready = False
            await _settle(commit)
            await consumer.stop()
            await conn.close()
            await checkpoints.close()

    async def _act_on_decisions(self, conn: psycopg.AsyncConnection) -> float:
        """Reload the dead letters (an operator or a rebuild may have changed them) and carry out
        retry/skip decisions. Returns the loop time of this poll."""
        parked = self.quarantine.parked
        async with conn.transaction():
            self.quarantine, decisions = await quarantine.load(conn)
            self.quarantine.parked = parked
            if decisions:
                await quarantine.act_on(conn, self.quarantine, decisions)
        self.stats.blocked_streams = self.quarantine.blocked_count
        self.stats.parked = self.quarantine.parked
        return asyncio.get_running_loop().time()

    async def _apply_batch(self, conn: psycopg.AsyncConnection, batch) -> None:
        parts = [(tp, self.topics[tp.topic], envelopes) for tp, messages in batch.items()
                 if (envelopes := _parse(messages))]
        if not parts:
            return
        try:
            await self._apply_fast(conn, parts)
        except Exception as exc:  # a poison event or connection trouble, sorted here
            if quarantine.is_transient(exc, conn):
                raise
            log.warning("projector: batch failed (%s); applying it event by event", quarantine.describe(exc)[:300])
            await self._apply_isolated(conn, parts)
        committed = datetime.now(UTC)
        self.stats.lags.extend((committed - env.occurred_at).total_seconds() for _, _, envs in parts for env in envs)
        self.stats.batches += 1
        self.stats.blocked_streams = self.quarantine.blocked_count

    async def _apply_fast(self, conn: psycopg.AsyncConnection, parts) -> None:
        """The whole batch in one pipelined transaction (the normal case), first assuming it
        continues every stream (``applier.apply_envelopes``, ``expect_next``: no read before the
        writes), then, when a stream did not stand there (a redelivery, a gap), the careful way."""
        try:
            await self._apply_pipelined(conn, parts, expect_next=True)
        except Exception as exc:
            if not is_not_next(exc):
                raise
            self.stats.not_next += 1
            await self._apply_pipelined(conn, parts, expect_next=False)

    async def _apply_pipelined(self, conn: psycopg.AsyncConnection, parts, *, expect_next: bool) -> None:
        counts = [0, 0, 0]
        async with conn.transaction(), conn.pipeline():
            async with conn.cursor() as cur:
                for tp, context, envelopes in parts:
                    pending = [env for env in envelopes if not self.quarantine.holds(context, env)]
                    counts[2] += len(envelopes) - len(pending)
                    applied, duplicates = await apply_envelopes(cur, context, pending, expect_next=expect_next,
                                                                skip=self.quarantine.skips(context))
                    self._count(counts, applied, duplicates)
                    await self._move_partition(cur, context, tp, envelopes)
        self._add(counts)

    async def _apply_isolated(self, conn: psycopg.AsyncConnection, parts) -> None:
        """The batch again without pipelining, one savepoint per event; what fails is parked."""
        counts = [0, 0, 0]
        async with conn.transaction():
            for tp, context, envelopes in parts:
                applied, duplicates, held = await quarantine.apply_guarded(
                    conn, self.quarantine, context, envelopes, whole_first=False)
                counts[2] += held
                self._count(counts, applied, duplicates)
                async with conn.cursor() as cur:
                    await self._move_partition(cur, context, tp, envelopes)
        self._add(counts)
        self.stats.parked = self.quarantine.parked

    @staticmethod
    def _count(counts: list[int], applied: list[Envelope], duplicates: int) -> None:
        counts[0] += len(applied)
        counts[1] += duplicates

    def _add(self, counts: list[int]) -> None:
        self.stats.applied += counts[0]
        self.stats.duplicates += counts[1]
        self.stats.held += counts[2]

    @staticmethod
    async def _move_partition(cur, context: str, tp, envelopes: list[Envelope]) -> None:
        await cur.execute(
            "INSERT INTO projection_partitions (projection, log, partition, position) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (projection, log, partition) "
            "DO UPDATE SET position = GREATEST(projection_partitions.position, EXCLUDED.position)",
            (PROJECTION_NAME, context, tp.partition, max(env.position for env in envelopes)))


async def _commit(consumer, checkpoints: Checkpoints, batch) -> None:
    """Commit a ``getmany`` answer: each partition's last record, plus one, for the partitions
    still assigned (a revoked one's records go to its next owner, who applies what is new)."""
    owned = consumer.assignment()
    offsets = {tp: messages[-1].offset + 1 for tp, messages in batch.items() if messages and tp in owned}
    if offsets:
        await checkpoints.commit(consumer, offsets)


async def _settle(commit: asyncio.Task | None) -> None:
    """Wait for an offset commit in flight at shutdown; one that fails only replays its batch
    (harmlessly: ``projection_streams``) at the next start."""
    if commit is None:
        return
    try:
        await commit
    except KafkaError as exc:  # the loop is ending; what it raised first is what matters
        log.info("projector: the last offset commit did not land (%s); its batch is applied again later", exc)


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
