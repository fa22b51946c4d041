"""Applies envelopes to the read models exactly once per stream version.

Used both by the Kafka-fed projector and by ``agentloom projections rebuild``, so both write the
same rows. The highest applied version per stream is kept in ``projection_streams`` in the same
transaction as the read-model change: a redelivered event is skipped, and a missing earlier
version (should the broker ever skip one) is fetched from the store and applied first.

An event whose projection fails is reported as ``ProjectionFailed`` naming that event (which may
be one fetched to fill a gap, not the one asked for), so the caller can park exactly it
(``quarantine.py``); positions an operator chose to skip are stepped over without a handler call.

Reading the applied versions first costs the batch a round trip to PostgreSQL before its first
write, and on a loaded machine each round trip waits for a CPU. The Kafka-fed projector nearly
always receives each stream's next versions, so it may apply a batch ``expect_next``: it assumes
every stream stands just below the batch's first version of it, writes, and moves the versions at
the end with ``projection_advance`` (migration 028), which checks that assumption under the row
locks and otherwise fails the transaction with SQLSTATE ``AL001`` (``is_not_next``). The caller
then applies the batch again the careful way. Either way a version is applied once.
"""

from __future__ import annotations

import logging
from collections.abc import Container

from psycopg import AsyncCursor

from schemas.envelope import Envelope
from schemas.events import decode_payload
from services.infra import event_log
from services.infra.event_codec import decode_row
from services.projector.names import PROJECTION_NAME
from services.projector.projections.sql import fetch_all
from services.projector.registry import open_batch

log = logging.getLogger(__name__)


NOT_NEXT = "AL001"  # raised by projection_advance: the batch does not continue a stream


def is_not_next(exc: BaseException) -> bool:
    """Whether an ``expect_next`` batch failed only because a stream did not stand where it assumed."""
    cause = exc.cause if isinstance(exc, ProjectionFailed) else exc
    return getattr(cause, "sqlstate", None) == NOT_NEXT


def versions_before(envelopes: list[Envelope]) -> dict | None:
    """Each stream's version just below its first envelope, when within the batch every stream's
    versions follow one another (v, v+1, ...); None when one repeats or skips (a redelivery inside
    the batch), which only the careful way can sort out."""
    before: dict = {}
    last: dict = {}
    for env in envelopes:
        previous = last.get(env.stream_id)
        if previous is None:
            before[env.stream_id] = env.stream_version - 1
        elif env.stream_version != previous + 1:
            return None
        last[env.stream_id] = env.stream_version
    return before


class ProjectionFailed(Exception):
    """Applying one event raised: ``env`` is the event, ``cause`` what it raised."""

    def __init__(self, env: Envelope, cause: BaseException) -> None:
        super().__init__(f"{env.type} v{env.stream_version} of stream {env.stream_id}: {cause!r}")
        self.env = env
        self.cause = cause


async def _applied_versions(cur: AsyncCursor, stream_ids: list) -> dict:
    rows = await fetch_all(
        cur, "SELECT stream_id, version FROM projection_streams WHERE projection = %s AND stream_id = ANY(%s) "
        "FOR UPDATE", (PROJECTION_NAME, stream_ids))
    return {row[0]: int(row[1]) for row in rows}


async def _missing(cur: AsyncCursor, context: str, env: Envelope, after: int) -> list[Envelope]:
    return await stream_events(cur, context, env.stream_id, after=after, before=env.stream_version)


async def stream_events(cur: AsyncCursor, context: str, stream_id, *, after: int, before: int | None = None,
                        limit: int | None = None) -> list[Envelope]:
    """A stream's recorded events with ``after < version < before``, in version order, from the store."""
    rows = await event_log.stream_rows(cur.connection, context, stream_id, after=after, before=before, limit=limit)
    return [decode_row(row).envelope() for row in rows]


async def apply_envelopes(cur: AsyncCursor, context: str, envelopes: list[Envelope], *,
                          skip: Container[int] = (), expect_next: bool = False) -> tuple[list[Envelope], int]:
    """Apply envelopes in order, each stream's versions exactly once (a gap before a version is
    filled from the store first); an event at a position in ``skip`` counts as applied without
    being applied. Returns the applied envelopes and the number of duplicates.

    ``expect_next``: assume the batch continues every stream (module docstring); the transaction
    then fails with ``NOT_NEXT`` where it does not. A batch whose own versions repeat or skip is
    applied the careful way at once."""
    assumed = versions_before(envelopes) if expect_next else None
    if assumed is not None:
        applied_versions = dict(assumed)
    else:
        applied_versions = await _applied_versions(cur, list({env.stream_id for env in envelopes}))
    batch = open_batch(context)
    applied: list[Envelope] = []
    duplicates = 0
    for env in envelopes:
        current = applied_versions.get(env.stream_id, 0)
        if env.stream_version <= current:
            duplicates += 1
            continue
        pending = [env]
        if env.stream_version > current + 1:
            log.warning("stream %s: version %d arrived after %d; filling the gap from the store",
                        env.stream_id, env.stream_version, current)
            pending = [*await _missing(cur, context, env, current), env]
        for item in pending:
            if item.position in skip:
                continue
            try:
                await batch.apply(cur, item, decode_payload(item.type, item.class_version, item.payload))
            except Exception as exc:  # the caller decides: retry the batch or park the event
                raise ProjectionFailed(item, exc) from exc
        applied_versions[env.stream_id] = env.stream_version
        applied.append(env)
    if applied:
        latest = {env.stream_id: env for env in applied}
        try:
            await batch.finish(cur, list(latest.values()))
        except Exception as exc:  # named by the batch's last event: isolated, it is that one's
            raise ProjectionFailed(applied[-1], exc) from exc
        if assumed is not None:
            await cur.execute("SELECT projection_advance(%s, %s::uuid[], %s::bigint[], %s::bigint[])",
                              (PROJECTION_NAME, list(latest), [assumed[sid] for sid in latest],
                               [env.stream_version for env in latest.values()]))
        else:
            await cur.executemany(
                "INSERT INTO projection_streams (projection, stream_id, version) VALUES (%s, %s, %s) "
                "ON CONFLICT (projection, stream_id) DO UPDATE SET version = EXCLUDED.version",
                [(PROJECTION_NAME, sid, env.stream_version) for sid, env in latest.items()])
    return applied, duplicates
