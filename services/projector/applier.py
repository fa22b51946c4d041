"""Applies envelopes to the read models exactly once per stream version.

Used both by the Kafka-fed projector and by ``agentloom projections rebuild``, so both write the
same rows. The highest applied version per stream is kept in ``projection_streams`` in the same
transaction as the read-model change: a redelivered event is skipped, and a missing earlier
version (should the broker ever skip one) is fetched from the store and applied first.
"""

from __future__ import annotations

import logging

import orjson
from psycopg import AsyncCursor

from schemas.envelope import Envelope, event_id_for
from schemas.events import decode_payload
from services.projector.registry import HANDLERS, PROJECTION_NAME
from services.projector.sql import fetch_all

log = logging.getLogger(__name__)


async def _applied_versions(cur: AsyncCursor, stream_ids: list) -> dict:
    rows = await fetch_all(
        cur, "SELECT stream_id, version FROM projection_streams WHERE projection = %s AND stream_id = ANY(%s) "
        "FOR UPDATE", (PROJECTION_NAME, stream_ids))
    return {row[0]: int(row[1]) for row in rows}


async def _missing(cur: AsyncCursor, context: str, env: Envelope, after: int) -> list[Envelope]:
    rows = await fetch_all(
        cur, f'SELECT originator_version, topic, state, notification_id FROM "{context}_events" '  # noqa: S608
        "WHERE originator_id = %s AND originator_version > %s AND originator_version < %s "
        "ORDER BY originator_version", (env.stream_id, after, env.stream_version))
    return [envelope_from_row(env.stream_id, version, topic, state, position)
            for version, topic, state, position in rows]


def envelope_from_row(stream_id, version: int, topic: str, state: bytes, position: int) -> Envelope:
    """An envelope straight from a row of a ``<context>_events`` table."""
    data = orjson.loads(bytes(state))
    return Envelope(event_id=event_id_for(stream_id, version), type=topic, class_version=data["class_version"],
                    stream_id=stream_id, stream_version=version, position=position,
                    occurred_at=data["occurred_at"], user_id=data.get("user_id"), payload=data["payload"])


async def apply_envelopes(cur: AsyncCursor, context: str, envelopes: list[Envelope]) -> tuple[list[Envelope], int]:
    """Apply envelopes in order, each stream's versions exactly once (a gap before a version is
    filled from the store first). Returns the applied envelopes and the number of duplicates."""
    applied_versions = await _applied_versions(cur, list({env.stream_id for env in envelopes}))
    handler = HANDLERS[context]
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
            await handler(cur, item, decode_payload(item.type, item.class_version, item.payload))
        applied_versions[env.stream_id] = env.stream_version
        applied.append(env)
    if applied:
        latest = {env.stream_id: env.stream_version for env in applied}
        await cur.executemany(
            "INSERT INTO projection_streams (projection, stream_id, version) VALUES (%s, %s, %s) "
            "ON CONFLICT (projection, stream_id) DO UPDATE SET version = EXCLUDED.version",
            [(PROJECTION_NAME, sid, version) for sid, version in latest.items()])
    return applied, duplicates
