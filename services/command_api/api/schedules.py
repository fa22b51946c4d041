"""Schedule routes (AutoGPT's paths and shapes): create on a graph, delete; and agentloom's pause,
resume and "run now". Lists and reads are the query API's (``query_api/api/schedules.py``)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from services.command_api.api.deps import CurrentUser, Schedules
from services.command_api.api.idempotency import IDEMPOTENT, IdempotentRoute
from services.domain.executions.shapes import GraphExecutionMeta
from services.domain.schedules.rules import MAX_SCHEDULE_NAME
from services.domain.schedules.shapes import ScheduleDeletedView, ScheduleView
from services.domain.schedules.timetable import MAX_CRON_CHARS
from services.domain.users.rules import MAX_TIMEZONE_CHARS
from services.infra.http import MAX_VERSION, UuidPath, current_user, json_response, parse_optional_uuid, parse_uuid
from services.infra.http_errors import BODY_REFUSALS, refusals
from services.infra.ratelimit import execute_limit


class ScheduleCreateRequest(BaseModel):
    """AutoGPT's ``ScheduleCreationRequest``, plus ``preset_id`` (the preset's inputs and
    credentials under the request's, saved with the schedule)."""

    model_config = ConfigDict(extra="ignore")

    graph_version: int | None = Field(default=None, ge=1, le=MAX_VERSION)
    name: str = Field(min_length=1, max_length=MAX_SCHEDULE_NAME)
    cron: str = Field(min_length=1, max_length=MAX_CRON_CHARS)
    inputs: dict[str, Any] = Field(default_factory=dict)
    credentials: dict[str, Any] = Field(default_factory=dict)
    timezone: str | None = Field(default=None, max_length=MAX_TIMEZONE_CHARS)
    preset_id: str | None = Field(default=None, max_length=36)


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api", tags=["schedules"], responses=refusals(401), route_class=IdempotentRoute)

    @router.post("/graphs/{graph_id}/schedules", summary="Schedule runs of a graph version on a cron timetable",
                 response_model=ScheduleView, responses=refusals(*BODY_REFUSALS, 404, 409), dependencies=[IDEMPOTENT])
    async def create_schedule(graph_id: UuidPath, body: ScheduleCreateRequest, user: CurrentUser,
                              schedules: Schedules) -> Response:
        return json_response(await asyncio.to_thread(
            schedules.create, user, parse_uuid(graph_id, "graph_id"), graph_version=body.graph_version,
            name=body.name, cron=body.cron, inputs=body.inputs, credentials=body.credentials,
            timezone=body.timezone, preset_id=parse_optional_uuid(body.preset_id, "preset_id")))

    @router.delete("/schedules/{schedule_id}", summary="Delete a schedule", response_model=ScheduleDeletedView,
                   responses=refusals(400, 404, 409))
    async def delete_schedule(schedule_id: UuidPath, user: CurrentUser, schedules: Schedules) -> Response:
        return json_response(await asyncio.to_thread(schedules.delete, user, parse_uuid(schedule_id, "schedule_id")))

    @router.post("/schedules/{schedule_id}/pause", summary="Pause a schedule (no tick fires until resumed)",
                 response_model=ScheduleView, responses=refusals(400, 404, 409))
    async def pause_schedule(schedule_id: UuidPath, user: CurrentUser, schedules: Schedules) -> Response:
        return json_response(await asyncio.to_thread(schedules.pause, user, parse_uuid(schedule_id, "schedule_id")))

    @router.post("/schedules/{schedule_id}/resume", summary="Resume a paused schedule (ticks count from now)",
                 response_model=ScheduleView, responses=refusals(400, 404, 409))
    async def resume_schedule(schedule_id: UuidPath, user: CurrentUser, schedules: Schedules) -> Response:
        return json_response(await asyncio.to_thread(schedules.resume, user, parse_uuid(schedule_id, "schedule_id")))

    @router.post("/schedules/{schedule_id}/run", summary="Run a schedule's graph now, with its inputs",
                 dependencies=[IDEMPOTENT, Depends(execute_limit(current_user))], response_model=GraphExecutionMeta,
                 responses=refusals(400, 402, 404, 409, 429))
    async def run_schedule_now(schedule_id: UuidPath, user: CurrentUser, schedules: Schedules) -> Response:
        return json_response(await asyncio.to_thread(schedules.run_now, user, parse_uuid(schedule_id, "schedule_id")))

    return router
