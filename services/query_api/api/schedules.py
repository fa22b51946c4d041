"""Schedule read routes (AutoGPT paths): the caller's schedules, one graph's, and one schedule (an
agentloom addition). Each waits only for the schedules read model to include the caller's writes."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from services.domain.errors import NotFoundError
from services.domain.schedules.shapes import ScheduleView
from services.infra.http import CurrentUser, UuidPath, json_response, parse_uuid
from services.infra.http_errors import refusals
from services.query_api.api.deps import ReadPool, fenced
from services.query_api.read_models import schedules as rm


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api", tags=["schedules"], responses=refusals(401))
    fence = [Depends(fenced("schedules"))]

    @router.get("/schedules", summary="The caller's schedules, newest first", response_model=list[ScheduleView],
                dependencies=fence)
    async def list_schedules(user: CurrentUser, pool: ReadPool) -> Response:
        return json_response(await rm.schedules(pool, user.id))

    @router.get("/schedules/{schedule_id}", summary="One of the caller's schedules", response_model=ScheduleView,
                dependencies=fence, responses=refusals(400, 404))
    async def get_schedule(schedule_id: UuidPath, user: CurrentUser, pool: ReadPool) -> Response:
        schedule_id = parse_uuid(schedule_id, "schedule_id")
        found = await rm.schedule(pool, user.id, schedule_id)
        if found is None:
            raise NotFoundError(f"Schedule #{schedule_id} not found")
        return json_response(found)

    @router.get("/graphs/{graph_id}/schedules", summary="The caller's schedules of one graph",
                response_model=list[ScheduleView], dependencies=fence, responses=refusals(400))
    async def list_graph_schedules(graph_id: UuidPath, user: CurrentUser, pool: ReadPool) -> Response:
        return json_response(await rm.schedules(pool, user.id, graph_id=parse_uuid(graph_id, "graph_id")))

    return router
