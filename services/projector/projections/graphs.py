"""Folds graph events into ``rm_graphs`` and ``rm_graph_versions``.

Every write is derived from the event alone (timestamps included), so a rebuild from the store
produces byte-identical tables.
"""

from __future__ import annotations

from psycopg import AsyncCursor
from psycopg.types.json import Jsonb

from schemas.envelope import Envelope
from schemas.events.graphs import ActiveVersionSet, GraphCreated, GraphDeleted, GraphVersionCreated
from services.domain.graphs.model import graph_meta, graph_model
from services.projector.projections.sql import fetch_all

TABLES = ("rm_graphs", "rm_graph_versions")


async def _insert_version(cur: AsyncCursor, env: Envelope, user_id: str, body) -> None:
    model = graph_model(body, user_id=user_id, created_at=env.occurred_at)
    model.pop("is_active", None)
    await cur.execute(
        "INSERT INTO rm_graph_versions (graph_id, version, user_id, name, created_at, model, meta) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (graph_id, version) DO NOTHING",
        (body.id, body.version, user_id, body.name, env.occurred_at, Jsonb(model), Jsonb(graph_meta(model))))


async def apply(cur: AsyncCursor, env: Envelope, event) -> None:
    if isinstance(event, GraphCreated):
        await cur.execute(
            "INSERT INTO rm_graphs (graph_id, user_id, active_version, latest_version, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (graph_id) DO NOTHING",
            (env.stream_id, event.user_id, event.graph.version if event.is_active else None,
             event.graph.version, env.occurred_at, env.occurred_at))
        await _insert_version(cur, env, event.user_id, event.graph)
    elif isinstance(event, GraphVersionCreated):
        rows = await fetch_all(cur, "SELECT user_id FROM rm_graphs WHERE graph_id = %s", (env.stream_id,))
        if not rows:
            return
        await _insert_version(cur, env, rows[0][0], event.graph)
        await cur.execute(
            "UPDATE rm_graphs SET latest_version = GREATEST(latest_version, %s), updated_at = %s, "
            "active_version = CASE WHEN %s THEN %s ELSE active_version END WHERE graph_id = %s",
            (event.graph.version, env.occurred_at, event.is_active, event.graph.version, env.stream_id))
    elif isinstance(event, ActiveVersionSet):
        await cur.execute("UPDATE rm_graphs SET active_version = %s, updated_at = %s WHERE graph_id = %s",
                          (event.version, env.occurred_at, env.stream_id))
    elif isinstance(event, GraphDeleted):
        await cur.execute("UPDATE rm_graphs SET deleted = true, updated_at = %s WHERE graph_id = %s",
                          (env.occurred_at, env.stream_id))
