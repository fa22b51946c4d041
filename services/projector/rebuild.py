"""``agentloom projections rebuild``: recompute every read model from the event store.

Runs in one transaction: the read-model tables are emptied and refilled from each context's log in
store order, so readers see either the old tables or the rebuilt ones, and a running projector
waits on the table locks and then carries on (its per-stream versions were rebuilt too).

Dead letters hold in a rebuild as they do in the projector: a skipped event is stepped over, a
parked one (and the rest of its stream) is left out, a retried one is tried again (and resolved
if it applies), and an event that fails now is parked instead of failing the rebuild.
"""

from __future__ import annotations

from services.infra import db, deadletters, event_log
from services.infra.event_codec import decode_row
from services.infra.settings import Settings
from services.projector import quarantine as quarantine_rules
from services.projector.names import PROJECTION_NAME
from services.projector.registry import PROJECTIONS, TABLES

BATCH = 2000


async def rebuild(settings: Settings) -> dict[str, int]:
    """Rebuild; returns the number of events read per context (plus ``"parked"``: events left
    out because they, or an earlier event of their stream, are dead letters)."""
    counts: dict[str, int] = {}
    conn = await db.aconnect(settings)
    try:
        async with conn.transaction():
            async with conn.cursor() as cur:
                tables = [t for ctx in PROJECTIONS for t in TABLES[ctx]]
                await cur.execute(f"TRUNCATE {', '.join(tables)}")
                await cur.execute("DELETE FROM projection_streams WHERE projection = %s", (PROJECTION_NAME,))
            quarantine, _ = await quarantine_rules.load(conn, rebuilding=True)
            held = 0
            for context in PROJECTIONS:
                counts[context], context_held = await _replay_context(conn, quarantine, context)
                held += context_held
            await _resolve_retried(conn)
            counts["parked"] = held
    finally:
        await conn.close()
    return counts


async def _replay_context(conn, quarantine, context: str) -> tuple[int, int]:
    after, total, held = 0, 0, 0
    while True:
        rows = await event_log.rows_after(conn, context, after, BATCH)
        if not rows:
            return total, held
        envelopes = [decode_row(row).envelope() for row in rows]
        _, _, page_held = await quarantine_rules.apply_guarded(conn, quarantine, context, envelopes)
        held += page_held
        total += len(envelopes)
        after = rows[-1].position


async def _resolve_retried(conn) -> None:
    """Retried dead letters the rebuild applied are closed (the projector would otherwise act on them)."""
    rows = await (await conn.execute(
        "SELECT d.id FROM dead_letters d JOIN projection_streams p ON p.projection = %s "
        "AND p.stream_id::text = d.stream_id WHERE d.consumer = %s AND d.status = 'retry' AND p.version >= d.version",
        (PROJECTION_NAME, quarantine_rules.CONSUMER))).fetchall()
    for (dl_id,) in rows:
        await deadletters.resolve(conn, dl_id)
