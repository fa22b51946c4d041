"""Folds schedule events into ``rm_schedules``: the lists users read and the ``next_fire_at``
index the schedulers poll for due schedules.

Each event is folded by the Schedule aggregate itself, on the state the row keeps (cron, zone, status,
``handled_until``, the last fire), so ``next_fire_at`` always names the tick the stream would decide
next and the projection restates no rule of the aggregate.
Every value comes from the events alone, so a rebuild gives identical rows.
"""

from __future__ import annotations

from psycopg import AsyncCursor
from psycopg.types.json import Jsonb

from schemas.envelope import Envelope
from schemas.events.schedules import ScheduleCreated, ScheduleDeleted, ScheduleFired
from services.domain.schedules.schedule import REFUSED, Fire, Schedule, outcome

TABLES = ("rm_schedules",)


async def apply(cur: AsyncCursor, env: Envelope, event) -> None:
    if isinstance(event, ScheduleCreated):
        created = Schedule(str(env.stream_id))
        created.apply(event, env.occurred_at)
        await cur.execute(
            "INSERT INTO rm_schedules (schedule_id, user_id, graph_id, graph_version, agent_name, name, cron, "
            "timezone, input_data, input_credentials, preset_id, status, handled_until, next_fire_at, created_at, "
            "updated_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'active', %s, %s, %s, %s) "
            "ON CONFLICT (schedule_id) DO NOTHING",
            (env.stream_id, event.user_id, event.graph_id, event.graph_version, event.agent_name, event.name,
             event.cron, event.timezone, Jsonb(event.inputs), Jsonb(event.credentials), event.preset_id,
             event.starts_at, created.next_due(), env.occurred_at, env.occurred_at))
        return
    await cur.execute("SELECT user_id, cron, timezone, status, handled_until, last_fired_at, last_execution_id, "
                      "last_outcome FROM rm_schedules WHERE schedule_id = %s", (env.stream_id,))
    row = await cur.fetchone()
    if row is None:
        return
    schedule = _from_row(str(env.stream_id), row)
    schedule.apply(event, env.occurred_at)  # the aggregate's own fold: one rule for both sides
    fire = schedule.last_fire
    columns: dict[str, object] = {
        "status": schedule.status, "handled_until": schedule.handled_until, "next_fire_at": schedule.next_due(),
        "last_fired_at": fire.tick_at if fire else None, "last_execution_id": fire.execution_id if fire else None,
        "last_outcome": outcome(fire), "updated_at": env.occurred_at}
    if isinstance(event, ScheduleFired):
        columns["last_fired_logged"] = env.occurred_at
    elif isinstance(event, ScheduleDeleted):
        columns["ended_reason"] = event.reason
    assignments = ", ".join(f"{name} = %s" for name in columns)
    await cur.execute(f"UPDATE rm_schedules SET {assignments} WHERE schedule_id = %s",  # noqa: S608 - fixed names
                      (*columns.values(), env.stream_id))


def _from_row(schedule_id: str, row) -> Schedule:
    """The part of the aggregate's state the row keeps (all its fold needs besides the event)."""
    user_id, cron, zone, status, handled, fired_at, execution_id, last_outcome = row
    fire = None
    if execution_id is not None:
        refused = last_outcome.removeprefix(REFUSED) if last_outcome and last_outcome.startswith(REFUSED) else None
        fire = Fire(fired_at, str(execution_id), manual=False, refused=refused)
    return Schedule(schedule_id, user_id=user_id, cron=cron, timezone=zone, paused=status == "paused",
                    deleted=status == "deleted", handled_until=handled, last_fire=fire)
