"""Graph read routes (AutoGPT paths and shapes)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request

from services.infra.auth import User
from services.domain.graphs.model import graph_meta
from services.domain.graphs.rules import strip_for_export
from services.infra.http import MAX_VERSION, NotFound, UuidPath, json_response, parse_uuid, refusals
from services.query_api.read_models import graphs as rm


def build_router(current_user, fenced) -> APIRouter:
    router = APIRouter(prefix="/api/graphs", tags=["graphs"], responses=refusals(401))

    def pool(request: Request):
        return request.app.state.read_pool

    @router.get("", summary="List the caller's graphs (active versions)")
    async def list_graphs(request: Request, user: User = Depends(current_user),
                          _: None = Depends(fenced("graphs"))):
        return json_response([graph_meta(m) for m in await rm.list_active(pool(request), user.id)])

    @router.get("/{graph_id}", summary="Get a graph version (newest when no version is given)",
                responses=refusals(400, 404))
    async def get_graph(graph_id: UuidPath, request: Request,
                        version: int | None = Query(default=None, ge=1, le=MAX_VERSION),
                        for_export: bool = False, user: User = Depends(current_user),
                        _: None = Depends(fenced("graphs"))):
        return json_response(await _one(request, user, graph_id, version, for_export))

    @router.get("/{graph_id}/versions/{version}", summary="Get one version of a graph", responses=refusals(400, 404))
    async def get_graph_version(graph_id: UuidPath, request: Request, version: int = Path(ge=1, le=MAX_VERSION),
                                user: User = Depends(current_user),
                                _: None = Depends(fenced("graphs"))):
        return json_response(await _one(request, user, graph_id, version, False))

    @router.get("/{graph_id}/versions", summary="Every version of a graph, newest first", responses=refusals(400, 404))
    async def list_versions(graph_id: UuidPath, request: Request, user: User = Depends(current_user),
                            _: None = Depends(fenced("graphs"))):
        versions = await rm.all_versions(pool(request), user.id, parse_uuid(graph_id, "graph_id"))
        if not versions:
            raise NotFound(f"Graph #{graph_id} not found")
        return json_response(versions)

    async def _one(request: Request, user: User, graph_id: str, version: int | None, export: bool):
        model = await rm.get_version(pool(request), user.id, parse_uuid(graph_id, "graph_id"), version)
        if model is None:
            suffix = f" v{version}" if version is not None else ""
            raise NotFound(f"Graph #{graph_id}{suffix} not found")
        return strip_for_export(model) if export else model

    return router
