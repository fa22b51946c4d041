"""Store read routes (AutoGPT paths under ``/api/store``): public listings (list, full-text search,
details by slug or by listing version, its graph and its download), creators, the caller's profile,
submissions and unpublished graphs, and the admin's listings and downloads.

A pending, rejected or withdrawn listing version is found by nobody but its creator and admins, on
every route. Listings and creators carry run counts, so those reads also wait for the executions
log; whatever reads graph data waits for the graphs log.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from schemas.events.store import SubmissionStatus
from services.domain.errors import NotFoundError
from services.domain.graphs.shapes import GraphMeta
from services.domain.paging import pagination
from services.domain.store import rules
from services.domain.store.shapes import (
    CreatorDetails,
    CreatorsResponse,
    DownloadedAgentData,
    MyUnpublishedAgentsResponse,
    ProfileDetails,
    StoreAgentDetails,
    StoreAgentsResponse,
    StoreListingsWithVersionsAdminViewResponse,
    StoreSubmissionsResponse,
    UnifiedSearchResponse,
)
from services.infra.auth import User
from services.infra.http import MAX_PAGE, AdminUser, CurrentUser, UuidPath, json_response, parse_uuid
from services.infra.http_errors import refusals
from services.query_api.api.deps import ReadPool, fenced
from services.query_api.read_models import store as rm

AgentSort = rm.AgentSort
CreatorSort = rm.CreatorSort
Page = Query(1, ge=1, le=MAX_PAGE)
PageSize = Query(20, ge=1, le=rules.MAX_PAGE_SIZE)


def search_param():
    """A fresh ``Query`` per parameter: FastAPI names a shared one after the first parameter using it."""
    return Query(None, max_length=rules.MAX_SEARCH)


STORE_AGENT = "STORE_AGENT"


def viewer(user: User) -> rm.Viewer:
    return rm.Viewer(user.id, user.is_admin)


def _text(value: str | None) -> str | None:
    return (value or "").strip() or None


def _paged(key: str, items: list, total: int, page: int, page_size: int, **extra) -> Response:
    return json_response({key: items, "pagination": pagination(total, page, page_size), **extra})


def _download(data: dict, row: dict) -> Response:
    response = json_response(data)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="agent_{row["graph_id"]}_v{row["graph_version"]}.json"')
    return response


def _listings(router: APIRouter) -> None:
    fence = [Depends(fenced("store", "executions"))]

    @router.get("/agents", summary="Approved agents in the store (filter, sort, full-text search)",
                response_model=StoreAgentsResponse, dependencies=fence)
    async def list_agents(pool: ReadPool, featured: bool = False, creator: str | None = Query(None, max_length=100),
                          category: str | None = Query(None, max_length=rules.MAX_CATEGORY),
                          search_query: str | None = search_param(), sorted_by: AgentSort | None = None,
                          page: int = Page, page_size: int = PageSize) -> Response:
        """With ``search_query`` the agents are ranked by relevance and ``sorted_by`` is ignored;
        without any sort, the most recently updated come first."""
        agents, total = await rm.list_agents(
            pool, featured=featured, creator=_text(creator), category=_text(category), search=_text(search_query),
            sorted_by=sorted_by, limit=page_size, offset=(page - 1) * page_size)
        return _paged("agents", agents, total, page, page_size)

    @router.get("/search", summary="Search the store (store agents, ranked by full-text relevance)",
                response_model=UnifiedSearchResponse, dependencies=fence)
    async def search(pool: ReadPool, query: str = Query(..., max_length=rules.MAX_SEARCH),
                     content_types: list[str] | None = Query(None, max_length=10),
                     page: int = Page, page_size: int = PageSize) -> Response:
        results, total = [], 0
        if _text(query) and (not content_types or STORE_AGENT in content_types):
            results, total = await rm.search_agents(pool, query.strip(), limit=page_size,
                                                    offset=(page - 1) * page_size)
        return _paged("results", results, total, page, page_size)

    @router.get("/agents/{username}/{agent_name}", summary="An agent's details by its creator and slug",
                response_model=StoreAgentDetails, dependencies=fence, responses=refusals(404))
    async def agent_details(username: str, agent_name: str, user: CurrentUser, pool: ReadPool,
                            include_changelog: bool = False) -> Response:
        found = await rm.agent_by_slug(pool, username.lower(), agent_name.lower(), viewer(user),
                                       changelog=include_changelog)
        if found is None:
            raise NotFoundError(f"Store agent {username}/{agent_name} not found")
        return json_response(found)

    @router.get("/listings/versions/{store_listing_version_id}", summary="One listing version's details",
                response_model=StoreAgentDetails, dependencies=fence, responses=refusals(400, 404))
    async def version_details(store_listing_version_id: UuidPath, user: CurrentUser, pool: ReadPool) -> Response:
        version_id = parse_uuid(store_listing_version_id, "store_listing_version_id")
        found = await rm.agent_by_version(pool, version_id, viewer(user))
        if found is None:
            raise NotFoundError(f"Store listing version #{version_id} not found")
        return json_response(found)

    graph_fence = [Depends(fenced("store", "graphs"))]

    @router.get("/listings/versions/{store_listing_version_id}/graph",
                summary="The graph version a listing version publishes (without nodes)", response_model=GraphMeta,
                dependencies=graph_fence, responses=refusals(400, 404))
    async def version_graph(store_listing_version_id: UuidPath, user: CurrentUser, pool: ReadPool) -> Response:
        version_id = parse_uuid(store_listing_version_id, "store_listing_version_id")
        meta = await rm.version_graph_meta(pool, version_id, viewer(user))
        if meta is None:
            raise NotFoundError(f"Store listing version #{version_id} not found")
        return json_response(meta)

    @router.get("/listings/versions/{store_listing_version_id}/graph/download",
                summary="Download the agent: the listing's texts and its graph, secrets stripped",
                response_model=DownloadedAgentData, dependencies=graph_fence, responses=refusals(400, 404))
    async def version_download(store_listing_version_id: UuidPath, user: CurrentUser, pool: ReadPool) -> Response:
        version_id = parse_uuid(store_listing_version_id, "store_listing_version_id")
        found = await rm.download(pool, version_id, viewer(user))
        if found is None:
            raise NotFoundError(f"Store listing version #{version_id} not found")
        return _download(*found)


def _creators(router: APIRouter) -> None:
    fence = [Depends(fenced("store", "executions"))]

    @router.get("/creators", summary="Creators with an approved agent", response_model=CreatorsResponse,
                dependencies=fence)
    async def list_creators(pool: ReadPool, featured: bool = False, search_query: str | None = search_param(),
                            sorted_by: CreatorSort | None = None, page: int = Page,
                            page_size: int = PageSize) -> Response:
        creators, total = await rm.list_creators(pool, featured=featured, search=_text(search_query),
                                                 sorted_by=sorted_by, limit=page_size, offset=(page - 1) * page_size)
        return _paged("creators", creators, total, page, page_size)

    @router.get("/creators/{username}", summary="A creator's profile and figures", response_model=CreatorDetails,
                dependencies=fence, responses=refusals(404))
    async def creator_details(username: str, pool: ReadPool) -> Response:
        found = await rm.creator(pool, username.lower())
        if found is None:
            raise NotFoundError(f"Creator {username} not found")
        return json_response(found)

    @router.get("/profile", summary="The caller's store profile", response_model=ProfileDetails,
                dependencies=[Depends(fenced("store"))], responses=refusals(404))
    async def get_profile(user: CurrentUser, pool: ReadPool) -> Response:
        found = await rm.profile(pool, user.id)
        if found is None:
            raise NotFoundError("User does not have a profile yet")
        return json_response(found)


def _mine(router: APIRouter) -> None:
    @router.get("/submissions", summary="The caller's submissions, newest first, with their figures",
                response_model=StoreSubmissionsResponse, dependencies=[Depends(fenced("store", "executions"))])
    async def my_submissions(user: CurrentUser, pool: ReadPool, page: int = Page,
                             page_size: int = PageSize) -> Response:
        items, total, stats = await rm.submissions(pool, user.id, limit=page_size, offset=(page - 1) * page_size)
        return _paged("submissions", items, total, page, page_size, stats=stats)

    @router.get("/my-unpublished-agents", summary="The caller's graphs not submitted to the store",
                response_model=MyUnpublishedAgentsResponse, dependencies=[Depends(fenced("store", "graphs"))])
    async def my_unpublished(user: CurrentUser, pool: ReadPool, page: int = Page,
                             page_size: int = PageSize) -> Response:
        agents, total = await rm.unpublished(pool, user.id, limit=page_size, offset=(page - 1) * page_size)
        return _paged("agents", agents, total, page, page_size)


def _admin_routes(router: APIRouter) -> None:
    @router.get("/admin/listings", summary="Admin: every listing with its versions",
                response_model=StoreListingsWithVersionsAdminViewResponse,
                dependencies=[Depends(fenced("store", "executions"))], responses=refusals(403))
    async def admin_listings(user: AdminUser, pool: ReadPool, status: SubmissionStatus | None = None,
                             search: str | None = search_param(), page: int = Page,
                             page_size: int = PageSize) -> Response:
        listings, total = await rm.admin_listings(pool, status=status.value if status else None,
                                                  search=_text(search), limit=page_size,
                                                  offset=(page - 1) * page_size)
        return _paged("listings", listings, total, page, page_size)

    @router.get("/admin/submissions/download/{store_listing_version_id}",
                summary="Admin: download any submission's agent", response_model=DownloadedAgentData,
                dependencies=[Depends(fenced("store", "graphs"))], responses=refusals(400, 403, 404))
    async def admin_download(store_listing_version_id: UuidPath, user: AdminUser, pool: ReadPool) -> Response:
        version_id = parse_uuid(store_listing_version_id, "store_listing_version_id")
        found = await rm.download(pool, version_id, viewer(user), any_status=True)
        if found is None:
            raise NotFoundError(f"Store listing version #{version_id} not found")
        return _download(*found)


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/store", tags=["store"], responses=refusals(401))
    _listings(router)
    _creators(router)
    _mine(router)
    _admin_routes(router)
    return router
