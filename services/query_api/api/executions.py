"""Execution read routes (AutoGPT paths and shapes)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from services.domain.errors import InvalidCommand, NotFoundError
from services.domain.executions.costs import MAX_TOP_RUNS, UserExecutionCostSummary, cost_window
from services.domain.executions.shapes import GraphExecutionMeta, GraphExecutionWithNodes
from services.infra.auth import User
from services.infra.http import MAX_PAGE, CurrentUser, UuidPath, json_response, parse_uuid
from services.infra.http_errors import refusals
from services.query_api.api.deps import ReadPool, fenced, fenced_stream, fenced_version, path_stream
from services.query_api.api.responses import GraphExecutionsPage
from services.query_api.read_models import costs
from services.query_api.read_models import executions as rm
from services.query_api.read_models.stream_views import StreamView, StreamViews


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api", tags=["executions"], responses=refusals(401))
    listed = [Depends(fenced("executions"))]
    one = [Depends(fenced_stream("executions", path_stream("graph_exec_id")))]  # waits for that run only

    @router.get("/executions", summary="The caller's executions, newest first",
                response_model=list[GraphExecutionMeta], dependencies=listed)
    async def list_all(user: CurrentUser, pool: ReadPool) -> Response:
        executions, _total = await rm.list_executions(pool, user.id)
        return json_response(executions)

    # before /executions/{graph_exec_id}, which would take "cost-summary" for an id
    @router.get("/executions/cost-summary", summary="What the caller's runs in a window cost",
                response_model=UserExecutionCostSummary, dependencies=[Depends(fenced("executions", "credits"))])
    async def cost_summary(user: CurrentUser, pool: ReadPool,
                           since: datetime | None = Query(None, description="Window start (UTC when no offset); "
                                                                              "the current month's start if absent"),
                           until: datetime | None = Query(None, description="Window end; now if absent"),
                           top_runs_limit: int = Query(10, ge=1, le=MAX_TOP_RUNS)) -> Response:
        """Runs created in the window (not deleted, not dry runs), each priced by the credits its
        ledger entries took so far; an inverted or over-a-year window is 422 (as AutoGPT answers), in
        the shape of every other 422."""
        try:
            start, end = cost_window(since, until, datetime.now(UTC))
        except InvalidCommand as exc:
            raise RequestValidationError([{"loc": ("query", "since"), "msg": exc.detail, "type": "value_error"}]) \
                from None
        return json_response(await costs.cost_summary(pool, user.id, start, end, top_runs_limit))

    @router.get("/graphs/{graph_id}/executions", summary="Executions of one graph, paginated",
                response_model=GraphExecutionsPage, responses=refusals(400), dependencies=listed)
    async def list_for_graph(graph_id: UuidPath, user: CurrentUser, pool: ReadPool,
                             page: int = Query(1, ge=1, le=MAX_PAGE),
                             page_size: int = Query(25, ge=1, le=100)) -> Response:
        executions, total = await rm.list_executions(pool, user.id, graph_id=parse_uuid(graph_id, "graph_id"),
                                                     limit=page_size, offset=(page - 1) * page_size)
        return json_response({"executions": executions, "pagination": {
            "total_items": total, "total_pages": max(1, math.ceil(total / page_size)),
            "current_page": page, "page_size": page_size}})

    @router.get("/graphs/{graph_id}/executions/{graph_exec_id}", summary="One execution with its node executions",
                response_model=GraphExecutionWithNodes, responses=refusals(400, 404), dependencies=one)
    async def get_one(graph_id: UuidPath, graph_exec_id: UuidPath, user: CurrentUser, pool: ReadPool,
                      request: Request) -> Response:
        return await _one(request, user, pool, parse_uuid(graph_exec_id, "graph_exec_id"),
                          parse_uuid(graph_id, "graph_id"))

    @router.get("/executions/{graph_exec_id}", summary="One execution with its node executions",
                response_model=GraphExecutionWithNodes, responses=refusals(400, 404), dependencies=one)
    async def get_by_id(graph_exec_id: UuidPath, user: CurrentUser, pool: ReadPool, request: Request) -> Response:
        return await _one(request, user, pool, parse_uuid(graph_exec_id, "graph_exec_id"))

    return router


async def _one(request: Request, user: User, pool, execution_id: str, graph_id: str | None = None) -> Response:
    """One execution's view: the one already built when it includes what the fence asks for
    (``stream_views.py``: polling a run costs no query while it does not move), else built now."""
    async def build() -> StreamView | None:
        found = await rm.get_execution_at(pool, user.id, execution_id)
        if found is None:
            return None
        execution, version = found
        return StreamView(version, orjson.dumps(execution), execution["graph_id"])

    views: StreamViews = request.app.state.execution_views
    view = await views.answer((user.id, execution_id), fenced_version(request), build)
    if view is None or (graph_id is not None and view.scope != graph_id):
        raise NotFoundError(f"Graph execution #{execution_id} not found")
    return Response(view.body, media_type="application/json")
