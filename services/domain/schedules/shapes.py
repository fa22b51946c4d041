"""AutoGPT's ``GraphExecutionJobInfo``, built in one place for both APIs (from a folded schedule on
the command side, from a read-model row on the query side).

``next_run_time`` is an ISO 8601 instant on the wall clock of the schedule's time zone (AutoGPT
converts it to the user's zone). The fields after ``input_credentials`` are agentloom's additions:
whether the schedule runs, and what its last fire did.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from services.domain.schedules.timetable import in_zone


class ScheduleView(BaseModel):
    id: str
    name: str
    next_run_time: str | None
    timezone: str
    schedule_id: str
    user_id: str
    graph_id: str
    graph_version: int
    agent_name: str | None
    cron: str
    input_data: dict[str, Any]
    input_credentials: dict[str, Any]
    preset_id: str | None
    status: str
    last_fired_at: datetime | None
    last_execution_id: str | None
    last_outcome: str | None
    created_at: datetime | None


class ScheduleDeletedView(BaseModel):
    id: str


def schedule_view(*, schedule_id: str, user_id: str, graph_id: str, graph_version: int, agent_name: str,
                  name: str, cron: str, timezone: str, inputs: dict[str, Any], credentials: dict[str, Any],
                  preset_id: str | None, status: str, next_due: datetime | None, last_fired_at: datetime | None,
                  last_execution_id: str | None, last_outcome: str | None,
                  created_at: datetime | None) -> dict[str, Any]:
    return {"id": schedule_id, "name": name,
            "next_run_time": in_zone(next_due, timezone).isoformat() if next_due is not None else None,
            "timezone": timezone, "schedule_id": schedule_id, "user_id": user_id, "graph_id": graph_id,
            "graph_version": graph_version, "agent_name": agent_name or None, "cron": cron, "input_data": inputs,
            "input_credentials": credentials, "preset_id": preset_id, "status": status,
            "last_fired_at": last_fired_at, "last_execution_id": last_execution_id, "last_outcome": last_outcome,
            "created_at": created_at}
