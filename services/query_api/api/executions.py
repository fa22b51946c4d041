"""Execution read routes (AutoGPT paths and shapes)."""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from services.infra.auth import User
from services.infra.http import MAX_PAGE, NotFound, UuidPath, json_response, parse_uuid, refusals
from services.query_api.read_models import executions as rm


def build_router(current_user, fenced) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["executions"], responses=refusals(401))

    def pool(request: Request):
        return request.app.state.read_pool

    @router.get("/executions", summary="The caller's executions, newest first")
    async def list_all(request: Request, user: User = Depends(current_user),
                       _: None = Depends(fenced("executions"))):
        executions, _total = await rm.list_executions(pool(request), user.id)
        return json_response(executions)

    @router.get("/graphs/{graph_id}/executions", summary="Executions of one graph, paginated", responses=refusals(400))
    async def list_for_graph(graph_id: UuidPath, request: Request, page: int = Query(1, ge=1, le=MAX_PAGE),
                             page_size: int = Query(25, ge=1, le=100), user: User = Depends(current_user),
                             _: None = Depends(fenced("executions"))):
        executions, total = await rm.list_executions(pool(request), user.id, graph_id=parse_uuid(graph_id, "graph_id"),
                                                     limit=page_size, offset=(page - 1) * page_size)
        return json_response({"executions": executions, "pagination": {
            "total_items": total, "total_pages": max(1, math.ceil(total / page_size)),
            "current_page": page, "page_size": page_size}})

    @router.get("/graphs/{graph_id}/executions/{graph_exec_id}", summary="One execution with its node executions",
                responses=refusals(400, 404))
    async def get_one(graph_id: UuidPath, graph_exec_id: UuidPath, request: Request, user: User = Depends(current_user),
                      _: None = Depends(fenced("executions"))):
        found = await rm.get_execution(pool(request), user.id, parse_uuid(graph_exec_id, "graph_exec_id"),
                                       parse_uuid(graph_id, "graph_id"))
        if found is None:
            raise NotFound(f"Graph execution #{graph_exec_id} not found")
        return json_response(found)

    @router.get("/executions/{graph_exec_id}", summary="One execution with its node executions",
                responses=refusals(400, 404))
    async def get_by_id(graph_exec_id: UuidPath, request: Request, user: User = Depends(current_user),
                        _: None = Depends(fenced("executions"))):
        found = await rm.get_execution(pool(request), user.id, parse_uuid(graph_exec_id, "graph_exec_id"))
        if found is None:
            raise NotFound(f"Graph execution #{graph_exec_id} not found")
        return json_response(found)

    return router
