"""``agentloom projections rebuild``: recompute every read model from the event store.

Runs in one transaction: the read-model tables are emptied and refilled from each context's log in
store order, so readers see either the old tables or the rebuilt ones, and a running projector
waits on the table locks and then carries on (its per-stream versions were rebuilt too).
"""

from __future__ import annotations

from services.common import db
from services.common.settings import Settings
from services.projector.applier import apply_envelopes, envelope_from_row
from services.projector.registry import HANDLERS, PROJECTION_NAME, TABLES

BATCH = 2000


async def rebuild(settings: Settings) -> dict[str, int]:
    counts: dict[str, int] = {}
    conn = await db.aconnect(settings)
    try:
        async with conn.transaction():
            async with conn.cursor() as cur:
                tables = [t for ctx in HANDLERS for t in TABLES[ctx]]
                await cur.execute(f"TRUNCATE {', '.join(tables)}")
                await cur.execute("DELETE FROM projection_streams WHERE projection = %s", (PROJECTION_NAME,))
                for context in HANDLERS:
                    counts[context] = await _replay_context(cur, context)
    finally:
        await conn.close()
    return counts


async def _replay_context(cur, context: str) -> int:
    after, total = 0, 0
    while True:
        rows = await (await cur.execute(
            f'SELECT notification_id, originator_id, originator_version, topic, state FROM "{context}_events" '  # noqa: S608
            "WHERE notification_id > %s ORDER BY notification_id LIMIT %s", (after, BATCH))).fetchall()
        if not rows:
            return total
        envelopes = [envelope_from_row(stream_id, version, topic, state, position)
                      for position, stream_id, version, topic, state in rows]
        await apply_envelopes(cur, context, envelopes)
        total += len(envelopes)
        after = rows[-1][0]
