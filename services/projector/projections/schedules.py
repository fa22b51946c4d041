"""Folds schedule events into ``rm_schedules``: the lists users read and the ``next_fire_at``
index the schedulers poll for due schedules.

``next_fire_at`` is computed here with the domain's timetable from the row's cron, zone and
``handled_until`` after each event, so the row always names the next tick the stream would decide.
Every value comes from the events alone, so a rebuild gives identical rows.
"""

from __future__ import annotations

from datetime import datetime

from psycopg import AsyncCursor
from psycopg.types.json import Jsonb

from schemas.envelope import Envelope
from schemas.events.schedules import (
    ScheduleCreated,
    ScheduleDeleted,
    ScheduleFired,
    SchedulePaused,
    ScheduleResumed,
    ScheduleRunRefused,
    ScheduleTicksSkipped,
)
from services.domain.schedules.timetable import next_tick

TABLES = ("rm_schedules",)


async def apply(cur: AsyncCursor, env: Envelope, event) -> None:
    if isinstance(event, ScheduleCreated):
        await cur.execute(
            "INSERT INTO rm_schedules (schedule_id, user_id, graph_id, graph_version, agent_name, name, cron, "
            "timezone, input_data, input_credentials, preset_id, status, handled_until, next_fire_at, created_at, "
            "updated_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'active', %s, %s, %s, %s) "
            "ON CONFLICT (schedule_id) DO NOTHING",
            (env.stream_id, event.user_id, event.graph_id, event.graph_version, event.agent_name, event.name,
             event.cron, event.timezone, Jsonb(event.inputs), Jsonb(event.credentials), event.preset_id,
             event.starts_at, next_tick(event.cron, event.timezone, event.starts_at), env.occurred_at,
             env.occurred_at))
        return
    await cur.execute("SELECT cron, timezone, status, handled_until FROM rm_schedules WHERE schedule_id = %s",
                      (env.stream_id,))
    row = await cur.fetchone()
    if row is None:
        return
    cron, zone, status, handled = row
    extra: dict[str, object] = {}
    if isinstance(event, SchedulePaused):
        status = "paused"
    elif isinstance(event, ScheduleResumed):
        status, handled = "active", max(handled, event.resumed_at)
    elif isinstance(event, ScheduleDeleted):
        status, extra = "deleted", {"ended_reason": event.reason}
    elif isinstance(event, ScheduleFired):
        extra = {"last_fired_at": event.tick_at, "last_execution_id": event.execution_id, "last_outcome": "fired",
                 "last_fired_logged": env.occurred_at}
        if not event.manual:
            handled = event.tick_at
    elif isinstance(event, ScheduleTicksSkipped):
        handled = event.handled_until
    elif isinstance(event, ScheduleRunRefused):
        extra = {"last_outcome": f"refused: {event.reason}"}
    else:
        return
    next_fire = next_tick(cron, zone, handled) if status == "active" else None
    await _update(cur, env, status, handled, next_fire, extra)


async def _update(cur: AsyncCursor, env: Envelope, status: str, handled: datetime, next_fire: datetime | None,
                  extra: dict[str, object]) -> None:
    columns = {"status": status, "handled_until": handled, "next_fire_at": next_fire, "updated_at": env.occurred_at,
               **extra}
    assignments = ", ".join(f"{name} = %s" for name in columns)
    await cur.execute(f"UPDATE rm_schedules SET {assignments} WHERE schedule_id = %s",  # noqa: S608 - fixed names
                      (*columns.values(), env.stream_id))
