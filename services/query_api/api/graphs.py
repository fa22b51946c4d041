"""Graph read routes (AutoGPT paths and shapes)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from services.domain.errors import NotFoundError
from services.domain.graphs.export import strip_for_export
from services.domain.graphs.model import graph_meta
from services.domain.graphs.shapes import GraphMeta, GraphModel
from services.infra.auth import User
from services.infra.http import MAX_VERSION, CurrentUser, UuidPath, json_response, parse_uuid
from services.infra.http_errors import refusals
from services.query_api.api.deps import ReadPool, fenced, fenced_head, fenced_stream, path_stream, require_fresh
from services.query_api.read_models import graphs as rm
from services.query_api.read_models.stream_views import StreamView, StreamViews


async def _one(request: Request, pool: ReadPool, user: User, graph_id: str, version: int | None,
               export: bool) -> dict[str, Any]:
    """The caller's own graph version; failing that, a version the store publishes (read by a user
    other than its owner, so always exported with secrets stripped)."""
    graph_id = parse_uuid(graph_id, "graph_id")
    model = await rm.get_version(pool, user.id, graph_id, version)
    if model is not None:
        return strip_for_export(model) if export else model
    await require_fresh(request, pool, "store")
    published = await rm.get_published(pool, graph_id, version)
    if published is None:
        suffix = f" v{version}" if version is not None else ""
        raise NotFoundError(f"Graph #{graph_id}{suffix} not found")
    return strip_for_export(published)


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/graphs", tags=["graphs"], responses=refusals(401))
    one = [Depends(fenced_stream("graphs", path_stream("graph_id")))]  # waits for that graph only

    @router.get("", summary="List the caller's graphs (active versions)", response_model=list[GraphMeta],
                dependencies=[Depends(fenced("graphs"))])
    async def list_graphs(user: CurrentUser, pool: ReadPool, request: Request) -> Response:
        # Only graph events change this list, so the one built at a head of the graphs log is
        # every later read's answer until that log moves (``stream_views.py``).
        head = fenced_head(request, "graphs")

        async def build() -> StreamView:
            return StreamView(head, orjson.dumps([graph_meta(m) for m in await rm.list_active(pool, user.id)]), "")

        views: StreamViews = request.app.state.list_views
        view = await views.answer((user.id, "graphs"), head, build)
        return Response(view.body, media_type="application/json")

    @router.get("/{graph_id}", summary="Get a graph version (newest when no version is given)",
                response_model=GraphModel, responses=refusals(400, 404), dependencies=one)
    async def get_graph(graph_id: UuidPath, request: Request, user: CurrentUser, pool: ReadPool,
                        version: int | None = Query(default=None, ge=1, le=MAX_VERSION),
                        for_export: bool = False) -> Response:
        return json_response(await _one(request, pool, user, graph_id, version, for_export))

    @router.get("/{graph_id}/versions/{version}", summary="Get one version of a graph", response_model=GraphModel,
                responses=refusals(400, 404), dependencies=one)
    async def get_graph_version(graph_id: UuidPath, request: Request, user: CurrentUser, pool: ReadPool,
                                version: int = Path(ge=1, le=MAX_VERSION)) -> Response:
        return json_response(await _one(request, pool, user, graph_id, version, False))

    @router.get("/{graph_id}/versions", summary="Every version of a graph, newest first",
                response_model=list[GraphModel], responses=refusals(400, 404), dependencies=one)
    async def list_versions(graph_id: UuidPath, user: CurrentUser, pool: ReadPool) -> Response:
        versions = await rm.all_versions(pool, user.id, parse_uuid(graph_id, "graph_id"))
        if not versions:
            raise NotFoundError(f"Graph #{graph_id} not found")
        return json_response(versions)

    return router
