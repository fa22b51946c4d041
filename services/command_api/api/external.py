"""The external API (``/external-api/v1``, AutoGPT's v1 paths): the platform driven with an API key.

Callers authenticate with ``X-API-Key``. The key is loaded from its stream in the event store (not
a read model) and its keyed hash compared in constant time, so a revoked or suspended key stops
working on the very next request. Missing, unknown, revoked or suspended keys get 401; a key
without the route's permission gets 403 naming it. Every route then acts as the key's owner,
through the same commands as the ``/api`` routes, so ownership rules (another user's graph or
execution is "not found") hold unchanged.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Security
from fastapi.responses import Response
from fastapi.security import APIKeyHeader

from schemas.events.apikeys import ApiKeyPermission as P
from schemas.graph import CreateGraphRequest, GraphInput
from services.command_api.api.deps import ApiKeys, Executions, Graphs, KeyUsages, Services, Users
from services.command_api.api.idempotency import IdempotentRoute, idempotent_key
from services.command_api.api.responses import CompletedBlockOutput, ExternalUser, QueuedExecution
from services.command_api.application.direct_runs import run_block_directly
from services.domain.apikeys.api_key import ApiKey
from services.domain.credits.pricing import block_catalogue
from services.domain.credits.shapes import BlockInfo
from services.domain.errors import Forbidden, NotFoundError
from services.domain.executions.results import GraphExecutionResult, execution_results
from services.domain.graphs.shapes import GraphModel
from services.domain.paging import pagination
from services.domain.store import rules as store_rules
from services.domain.store.shapes import CreatorDetails, CreatorsResponse, StoreAgentDetails, StoreAgentsResponse
from services.infra.auth import User
from services.infra.http import MAX_PAGE, MAX_VERSION, UuidPath, json_response, parse_uuid
from services.infra.http_errors import BODY_REFUSALS, refusals
from services.infra.ratelimit import enforce, key_bucket, user_bucket
from services.query_api.read_models import store as store_reads

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An agentloom API key (agpt_…)")


@functools.cache  # one callable per permission set: FastAPI then checks the key once per request
def require(*permissions: P):
    """Dependency: the ACTIVE key presented in ``X-API-Key`` holding every given permission."""

    async def authorized(keys: ApiKeys, usage: KeyUsages,
                         presented: str | None = Security(_api_key_header)) -> ApiKey:
        key = await asyncio.to_thread(keys.authenticate, presented)
        await usage.touch(key.key_id)
        missing = [p.value for p in permissions if not key.allows(p)]
        if missing:
            raise Forbidden(f"API key lacks the required permission(s): {', '.join(missing)}")
        return key

    return authorized


def owner(key: ApiKey) -> User:
    return User(id=key.user_id or "", email=key.user_email)


def build_router() -> APIRouter:
    # every route: 401 without a usable key, 403 for a key without the permission
    router = APIRouter(prefix="/external-api/v1", tags=["external"], responses=refusals(401, 403),
                       route_class=IdempotentRoute)

    @router.get("/me", summary="The API key owner", response_model=ExternalUser)
    async def me(users: Users, key: ApiKey = Depends(require(P.IDENTITY))) -> Response:
        """The owner's recorded name, email and time zone (a user never recorded: the key's
        email, no name, ``"not-set"``)."""
        account = await asyncio.to_thread(users.view, owner(key))
        return json_response({"id": key.user_id, "name": account.name, "email": account.email or key.user_email,
                              "timezone": account.timezone})

    @router.get("/blocks", summary="Every enabled block", response_model=list[BlockInfo])
    async def list_blocks(key: ApiKey = Depends(require(P.READ_BLOCK))) -> Response:
        return json_response(block_catalogue())

    @router.post("/blocks/{block_id}/execute", summary="Run one block with the given input",
                 response_model=CompletedBlockOutput, responses=refusals(*BODY_REFUSALS, 402, 404))
    async def execute_block(block_id: str, services: Services, data: dict[str, Any] = Body(default_factory=dict),
                            key: ApiKey = Depends(require(P.EXECUTE_BLOCK))) -> dict[str, list[Any]]:
        return await run_block_directly(block_id, data, key.user_id, **services.block_ports())

    @router.post("/graphs", summary="Create a graph (AutoGPT also adds it to the library)", status_code=201,
                 response_model=GraphModel, responses=refusals(*BODY_REFUSALS),
                 dependencies=[idempotent_key(require(P.WRITE_GRAPH, P.WRITE_LIBRARY))])
    def create_graph(body: Annotated[CreateGraphRequest | GraphInput, Body(union_mode="left_to_right")],
                     graphs: Graphs, key: ApiKey = Depends(require(P.WRITE_GRAPH, P.WRITE_LIBRARY))) -> Response:
        """AutoGPT's body is the graph itself; the ``{"graph": …}`` of ``POST /api/graphs`` is taken too."""
        graph = body.graph if isinstance(body, CreateGraphRequest) else body
        return json_response(graphs.create(owner(key), graph), status_code=201)

    @router.post("/graphs/{graph_id}/execute/{graph_version}", summary="Queue an execution of a graph version",
                 response_model=QueuedExecution, responses=refusals(*BODY_REFUSALS, 402, 404, 429),
                 dependencies=[idempotent_key(require(P.EXECUTE_GRAPH))])
    async def execute_graph(graph_id: UuidPath, request: Request, executions: Executions,
                            graph_version: int = Path(ge=1, le=MAX_VERSION),
                            node_input: dict[str, Any] = Body(default_factory=dict, embed=True),
                            key: ApiKey = Depends(require(P.EXECUTE_GRAPH))) -> Response:
        await enforce(request, key_bucket(key.key_id), user_bucket(key.user_id or ""))
        meta = await asyncio.to_thread(executions.execute, owner(key), parse_uuid(graph_id, "graph_id"),
                                       graph_version, node_input, {})
        return json_response({"id": meta["id"]})

    @router.get("/graphs/{graph_id}/executions/{graph_exec_id}/results", summary="An execution's results",
                response_model=GraphExecutionResult, responses=refusals(400, 404))
    def execution_result(graph_id: UuidPath, graph_exec_id: UuidPath, executions: Executions,
                         key: ApiKey = Depends(require(P.READ_GRAPH))) -> Response:
        state = executions.resolved_state(owner(key), parse_uuid(graph_id, "graph_id"),
                                          parse_uuid(graph_exec_id, "graph_exec_id"))
        return json_response(execution_results(state))

    _store(router)
    return router


def _store(router: APIRouter) -> None:
    """The store's public reads for API keys with READ_STORE: the same parameters, shapes and
    read-model queries as ``/api/store`` (on the command side's async pool, without a read fence:
    the store is public and a moment's lag is harmless)."""

    def search():
        return Query(None, max_length=store_rules.MAX_SEARCH)

    def text(value: str | None) -> str | None:
        return (value or "").strip() or None

    page_q = Query(1, ge=1, le=MAX_PAGE)
    size_q = Query(20, ge=1, le=store_rules.MAX_PAGE_SIZE)
    reader = store_reads.Viewer("")  # an API key sees what the public sees

    @router.get("/store/agents", summary="Approved agents in the store", response_model=StoreAgentsResponse)
    async def store_agents(services: Services, featured: bool = False,
                           creator: str | None = Query(None, max_length=100),
                           category: str | None = Query(None, max_length=store_rules.MAX_CATEGORY),
                           search_query: str | None = search(), sorted_by: store_reads.AgentSort | None = None,
                           page: int = page_q, page_size: int = size_q,
                           key: ApiKey = Depends(require(P.READ_STORE))) -> Response:
        agents, total = await store_reads.list_agents(
            services.kv_pool, featured=featured, creator=text(creator), category=text(category),
            search=text(search_query), sorted_by=sorted_by, limit=page_size, offset=(page - 1) * page_size)
        return json_response({"agents": agents, "pagination": pagination(total, page, page_size)})

    @router.get("/store/agents/{username}/{agent_name}", summary="An agent's details by its creator and slug",
                response_model=StoreAgentDetails, responses=refusals(404))
    async def store_agent(username: str, agent_name: str, services: Services,
                          key: ApiKey = Depends(require(P.READ_STORE))) -> Response:
        found = await store_reads.agent_by_slug(services.kv_pool, username.lower(), agent_name.lower(), reader)
        if found is None:
            raise NotFoundError(f"Store agent {username}/{agent_name} not found")
        return json_response(found)

    @router.get("/store/creators", summary="Creators with an approved agent", response_model=CreatorsResponse)
    async def store_creators(services: Services, featured: bool = False, search_query: str | None = search(),
                             sorted_by: store_reads.CreatorSort | None = None, page: int = page_q,
                             page_size: int = size_q, key: ApiKey = Depends(require(P.READ_STORE))) -> Response:
        creators, total = await store_reads.list_creators(
            services.kv_pool, featured=featured, search=text(search_query), sorted_by=sorted_by, limit=page_size,
            offset=(page - 1) * page_size)
        return json_response({"creators": creators, "pagination": pagination(total, page, page_size)})

    @router.get("/store/creators/{username}", summary="A creator's profile and figures",
                response_model=CreatorDetails, responses=refusals(404))
    async def store_creator(username: str, services: Services,
                            key: ApiKey = Depends(require(P.READ_STORE))) -> Response:
        found = await store_reads.creator(services.kv_pool, username.lower())
        if found is None:
            raise NotFoundError(f"Creator {username} not found")
        return json_response(found)
