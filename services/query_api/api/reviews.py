"""Human-review reads (AutoGPT's paths): the caller's waiting reviews, and one run's reviews.
Decisions are the command route ``POST /api/review/action``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from services.domain.errors import NotFoundError
from services.domain.executions.review_shapes import PendingHumanReview
from services.infra.http import CurrentUser, UuidPath, json_response, parse_uuid
from services.infra.http_errors import refusals
from services.query_api.api.deps import ReadPool, fenced, fenced_stream, path_stream
from services.query_api.read_models import reviews as rm

MAX_PAGE_SIZE = 100


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/review", tags=["review"], responses=refusals(401))

    @router.get("/pending", summary="The caller's node executions waiting for review, oldest first",
                response_model=list[PendingHumanReview], dependencies=[Depends(fenced("executions"))],
                responses=refusals(400))
    async def pending(user: CurrentUser, pool: ReadPool, page: int = Query(1, ge=1, le=10_000),
                      page_size: int = Query(25, ge=1, le=MAX_PAGE_SIZE)) -> Response:
        return json_response(await rm.waiting(pool, user.id, limit=page_size, offset=(page - 1) * page_size))

    @router.get("/execution/{graph_exec_id}", summary="Every review of one of the caller's runs",
                response_model=list[PendingHumanReview], responses=refusals(400, 404),
                dependencies=[Depends(fenced_stream("executions", path_stream("graph_exec_id")))])
    async def of_execution(graph_exec_id: UuidPath, user: CurrentUser, pool: ReadPool) -> Response:
        execution_id = parse_uuid(graph_exec_id, "graph_exec_id")
        if not await rm.owns_execution(pool, user.id, execution_id):
            raise NotFoundError(f"Graph execution #{graph_exec_id} not found")
        return json_response(await rm.of_execution(pool, user.id, execution_id))

    return router
