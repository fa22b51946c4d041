"""Keeps the runs of every graph per user (``rm_store_graph_runs``) from the executions log, and
each store listing's runs: AutoGPT counts the executions of the listing's graph by users other than
its creator. Dry runs simulate and are not counted.

The listing's figure is recomputed from the per-user rows (never incremented), and the store
projection takes it from the same rows when a listing is born, so the executions and the store log
may be projected in either order (as a rebuild does) and give the same rows.
"""

from __future__ import annotations

from psycopg import AsyncCursor

from schemas.envelope import Envelope
from schemas.events.executions import ExecutionQueued

TABLES = ("rm_store_graph_runs",)


async def apply(cur: AsyncCursor, env: Envelope, event) -> None:
    if isinstance(event, ExecutionQueued) and not event.is_dry_run:
        await cur.execute(
            "INSERT INTO rm_store_graph_runs (graph_id, user_id, runs) VALUES (%s, %s, 1) "
            "ON CONFLICT (graph_id, user_id) DO UPDATE SET runs = rm_store_graph_runs.runs + 1",
            (event.graph_id, event.user_id))
        await cur.execute(
            "UPDATE rm_store_listings l SET runs = (SELECT coalesce(sum(r.runs), 0) FROM rm_store_graph_runs r "
            "WHERE r.graph_id = l.graph_id AND r.user_id <> l.owner_id) WHERE l.graph_id = %s",
            (event.graph_id,))
