"""SQL over ``rm_schedules``: a user's schedules, all or one graph's. Only ever the caller's rows."""

from __future__ import annotations

from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from services.domain.schedules.shapes import schedule_view

MAX_LISTED = 250  # a user keeps at most 100 (services.domain.schedules.rules); the cap bounds any answer

_SELECT = ("SELECT schedule_id, user_id, graph_id, graph_version, agent_name, name, cron, timezone, input_data, "
           "input_credentials, preset_id, status, next_fire_at, last_fired_at, last_execution_id, last_outcome, "
           "created_at FROM rm_schedules WHERE user_id = %(user_id)s AND status <> 'deleted'")


def _view(r: dict[str, Any]) -> dict[str, Any]:
    return schedule_view(
        schedule_id=str(r["schedule_id"]), user_id=r["user_id"], graph_id=str(r["graph_id"]),
        graph_version=r["graph_version"], agent_name=r["agent_name"] or "", name=r["name"], cron=r["cron"],
        timezone=r["timezone"], inputs=r["input_data"], credentials=r["input_credentials"],
        preset_id=str(r["preset_id"]) if r["preset_id"] else None, status=r["status"], next_due=r["next_fire_at"],
        last_fired_at=r["last_fired_at"],
        last_execution_id=str(r["last_execution_id"]) if r["last_execution_id"] else None,
        last_outcome=r["last_outcome"], created_at=r["created_at"])


async def schedules(pool: AsyncConnectionPool, user_id: str, *, graph_id: str | None = None) -> list[dict[str, Any]]:
    """Newest first, paused ones included (AutoGPT lists them too)."""
    where = " AND graph_id = %(graph_id)s" if graph_id else ""
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"{_SELECT}{where} ORDER BY created_at DESC, schedule_id LIMIT {MAX_LISTED}",
                          {"user_id": user_id, "graph_id": graph_id})
        return [_view(r) for r in await cur.fetchall()]


async def schedule(pool: AsyncConnectionPool, user_id: str, schedule_id: str) -> dict[str, Any] | None:
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"{_SELECT} AND schedule_id = %(schedule_id)s",
                          {"user_id": user_id, "schedule_id": schedule_id})
        row = await cur.fetchone()
        return _view(row) if row else None
