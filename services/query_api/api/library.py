"""Library read routes (AutoGPT paths under ``/api/library``): entries, favourites, one entry by id
or by graph, folders (a level, the tree, one), presets (a page, one).

An entry is built from three logs (its graph's, the library's and the runs'), so its reads wait for
all three read models; folders and presets only for the library's.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from services.domain.errors import NotFoundError
from services.domain.library import rules
from services.domain.library.ids import library_agent_id
from services.domain.library.shapes import (
    FolderPage,
    FolderTreePage,
    LibraryAgentPage,
    LibraryAgentView,
    LibraryFolderView,
    PresetPage,
    PresetView,
)
from services.domain.paging import pagination
from services.infra.http import (
    MAX_PAGE,
    MAX_VERSION,
    CurrentUser,
    UuidPath,
    json_response,
    parse_optional_uuid,
    parse_uuid,
)
from services.infra.http_errors import refusals
from services.query_api.api.deps import ReadPool, fenced
from services.query_api.read_models import library as rm
from services.query_api.read_models import store as store_rm
from services.query_api.read_models.store import Viewer

SortBy = Literal["createdAt", "updatedAt", "lastExecuted"]
Page = Query(1, ge=1, le=MAX_PAGE)


def _agents(router: APIRouter) -> None:
    fence = [Depends(fenced("graphs", "library", "executions"))]

    @router.get("/agents", summary="The caller's library agents", response_model=LibraryAgentPage,
                dependencies=fence, responses=refusals(400))
    async def list_agents(user: CurrentUser, pool: ReadPool,
                          search_term: str | None = Query(None, max_length=rules.MAX_SEARCH_TERM),
                          sort_by: SortBy = Query("updatedAt"), page: int = Page,
                          page_size: int = Query(15, ge=1, le=rules.MAX_PAGE_SIZE),
                          folder_id: str | None = Query(None, max_length=36),
                          include_root_only: bool = False) -> Response:
        agents, total = await rm.list_agents(
            pool, user.id, search_term=(search_term or "").strip() or None, sort_by=sort_by,
            folder_id=parse_optional_uuid(folder_id, "folder_id"), root_only=include_root_only, favorites_only=False,
            limit=page_size, offset=(page - 1) * page_size)
        return json_response({"agents": agents, "pagination": pagination(total, page, page_size)})

    @router.get("/agents/favorites", summary="The caller's favourite library agents", response_model=LibraryAgentPage,
                dependencies=fence)
    async def list_favorites(user: CurrentUser, pool: ReadPool, page: int = Page,
                             page_size: int = Query(15, ge=1, le=rules.MAX_PAGE_SIZE)) -> Response:
        agents, total = await rm.list_agents(pool, user.id, search_term=None, sort_by="updatedAt", folder_id=None,
                                             root_only=False, favorites_only=True, limit=page_size,
                                             offset=(page - 1) * page_size)
        return json_response({"agents": agents, "pagination": pagination(total, page, page_size)})

    @router.get("/agents/by-graph/{graph_id}", summary="The caller's library agent for a graph",
                response_model=LibraryAgentView, dependencies=fence, responses=refusals(400, 404))
    async def get_by_graph(graph_id: UuidPath, user: CurrentUser, pool: ReadPool,
                           version: int | None = Query(None, ge=1, le=MAX_VERSION)) -> Response:
        graph_id = parse_uuid(graph_id, "graph_id")
        agent = await rm.get_agent(pool, user.id, str(library_agent_id(user.id, graph_id)), version)
        if agent is None:
            raise NotFoundError(f"Library agent for graph #{graph_id} not found")
        return json_response(agent)

    @router.get("/agents/marketplace/{store_listing_version_id}",
                summary="The caller's library agent for a store listing version (null if not added)",
                response_model=LibraryAgentView | None,
                dependencies=[Depends(fenced("graphs", "library", "executions", "store"))],
                responses=refusals(400, 404))
    async def get_by_listing_version(store_listing_version_id: UuidPath, user: CurrentUser,
                                     pool: ReadPool) -> Response:
        version_id = parse_uuid(store_listing_version_id, "store_listing_version_id")
        listed = await store_rm.version_row(pool, version_id, Viewer(user.id, user.is_admin))
        if listed is None:
            raise NotFoundError(f"Store listing version #{version_id} not found")
        return json_response(await rm.get_agent(pool, user.id, str(library_agent_id(user.id, str(listed["graph_id"]))),
                                                int(listed["graph_version"])))

    @router.get("/agents/{library_agent_id}", summary="One of the caller's library agents",
                response_model=LibraryAgentView, dependencies=fence, responses=refusals(400, 404))
    async def get_agent(library_agent_id: UuidPath, user: CurrentUser, pool: ReadPool) -> Response:
        agent_id = parse_uuid(library_agent_id, "library_agent_id")
        agent = await rm.get_agent(pool, user.id, agent_id)
        if agent is None:
            raise NotFoundError(f"Library agent #{agent_id} not found")
        return json_response(agent)


def _folders(router: APIRouter) -> None:
    fence = [Depends(fenced("graphs", "library"))]

    @router.get("/folders", summary="The caller's folders under one parent (the root by default)",
                response_model=FolderPage, dependencies=fence, responses=refusals(400))
    async def list_folders(user: CurrentUser, pool: ReadPool,
                           parent_id: str | None = Query(None, max_length=36),
                           include_counts: bool = True) -> Response:
        folders = await rm.folders(pool, user.id, parent_id=parse_optional_uuid(parent_id, "parent_id"))
        return json_response({"folders": folders, "pagination": pagination(len(folders), 1, max(len(folders), 1))})

    @router.get("/folders/tree", summary="Every folder of the caller, nested", response_model=FolderTreePage,
                dependencies=fence)
    async def folder_tree(user: CurrentUser, pool: ReadPool) -> Response:
        return json_response({"tree": await rm.tree(pool, user.id)})

    @router.get("/folders/{folder_id}", summary="One of the caller's folders", response_model=LibraryFolderView,
                dependencies=fence, responses=refusals(400, 404))
    async def get_folder(folder_id: UuidPath, user: CurrentUser, pool: ReadPool) -> Response:
        folder_id = parse_uuid(folder_id, "folder_id")
        found = await rm.folders(pool, user.id, folder_id=folder_id)
        if not found:
            raise NotFoundError(f"Folder #{folder_id} not found")
        return json_response(found[0])


def _presets(router: APIRouter) -> None:
    fence = [Depends(fenced("library"))]

    @router.get("/presets", summary="The caller's presets, newest first", response_model=PresetPage,
                dependencies=fence, responses=refusals(400))
    async def list_presets(user: CurrentUser, pool: ReadPool, page: int = Page,
                           page_size: int = Query(10, ge=1, le=rules.MAX_PAGE_SIZE),
                           graph_id: str | None = Query(None, max_length=36)) -> Response:
        presets, total = await rm.presets(pool, user.id, graph_id=parse_optional_uuid(graph_id, "graph_id"),
                                          limit=page_size, offset=(page - 1) * page_size)
        return json_response({"presets": presets, "pagination": pagination(total, page, page_size)})

    @router.get("/presets/{preset_id}", summary="One of the caller's presets", response_model=PresetView,
                dependencies=fence, responses=refusals(400, 404))
    async def get_preset(preset_id: UuidPath, user: CurrentUser, pool: ReadPool) -> Response:
        preset_id = parse_uuid(preset_id, "preset_id")
        found = await rm.preset(pool, user.id, preset_id)
        if found is None:
            raise NotFoundError(f"Preset #{preset_id} not found")
        return json_response(found)


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/library", tags=["library"], responses=refusals(401))
    _agents(router)
    _folders(router)
    _presets(router)
    return router
