"""What an API key's owner has, on the external API (``/external-api/v1``): library agents,
presets, schedules, runs and credits, with the scopes AutoGPT names for them (READ_LIBRARY,
READ_SCHEDULE/WRITE_SCHEDULE, READ_RUN/WRITE_RUN, READ_CREDITS).

They answer in the same shapes as the ``/api`` routes, because they are the same reads and the same
commands: the reads query the query side's read models (on the command API's async pool, as the
store routes in ``external.py`` do) after waiting, like every query route, until those read models
hold everything recorded before the request arrived, so a key that has just queued a run finds it
in the list. The key is authenticated against its stream in the store (``external.require``), so a
revoked key stops working at once, which the query API's read-model-only auth could not promise.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel

from schemas.events.apikeys import ApiKeyPermission as P
from services.command_api.api.deps import Executions, Ledger, Presets, Schedules, Services
from services.command_api.api.external import owner, require
from services.command_api.api.idempotency import IdempotentRoute, idempotent_key
from services.command_api.api.responses import QueuedExecution, UserCredits
from services.command_api.api.schedules import ScheduleCreateRequest
from services.command_api.application.bootstrap import CommandServices
from services.domain.apikeys.api_key import ApiKey
from services.domain.errors import InvalidCommand, NotFoundError, Unavailable
from services.domain.executions.costs import MAX_TOP_RUNS, UserExecutionCostSummary, cost_window
from services.domain.executions.shapes import GraphExecutionMeta, GraphExecutionWithNodes
from services.domain.library import rules as library_rules
from services.domain.library.shapes import LibraryAgentPage, LibraryAgentView, PresetPage, PresetView
from services.domain.paging import Pagination, pagination
from services.domain.schedules.shapes import ScheduleDeletedView, ScheduleView
from services.infra.http import MAX_PAGE, UuidPath, json_response, parse_optional_uuid, parse_uuid
from services.infra.http_errors import BODY_REFUSALS, refusals
from services.infra.ratelimit import enforce, key_bucket, user_bucket
from services.query_api.read_models import costs as cost_reads
from services.query_api.read_models import executions as execution_reads
from services.query_api.read_models import library as library_reads
from services.query_api.read_models import schedules as schedule_reads
from services.query_api.read_models.fence import wait_for_read_models

MAX_RUNS_PAGE_SIZE = 100
page_q = Query(1, ge=1, le=MAX_PAGE)


class RunsPage(BaseModel):
    executions: list[GraphExecutionMeta]
    pagination: Pagination


def fresh(*contexts: str):
    """Dependency: wait until the read models of ``contexts`` hold every event recorded before the
    request (503 with Retry-After past the fence's wait, as the query API answers)."""

    async def wait(services: Services) -> None:
        timeout = services.settings.read_fence_timeout_s
        fences = await asyncio.gather(*(wait_for_read_models(services.kv_pool, c, timeout) for c in contexts))
        behind = [c for c, (ok, _head) in zip(contexts, fences, strict=True) if not ok]
        if behind:
            raise Unavailable(f"The read models are behind what was recorded ({', '.join(behind)}); retry shortly")

    return wait


def build_router() -> APIRouter:
    router = APIRouter(prefix="/external-api/v1", tags=["external"], responses=refusals(401, 403),
                       route_class=IdempotentRoute)
    _library(router)
    _schedules(router)
    _runs(router)
    _credits(router)
    return router


def _pool(services: CommandServices):
    return services.kv_pool


def _library(router: APIRouter) -> None:
    @router.get("/library/agents", summary="The key owner's library agents", response_model=LibraryAgentPage,
                dependencies=[Depends(fresh("graphs", "library", "executions"))], responses=refusals(400))
    async def list_agents(services: Services,
                          search_term: str | None = Query(None, max_length=library_rules.MAX_SEARCH_TERM),
                          page: int = page_q, page_size: int = Query(15, ge=1, le=library_rules.MAX_PAGE_SIZE),
                          key: ApiKey = Depends(require(P.READ_LIBRARY))) -> Response:
        agents, total = await library_reads.list_agents(
            _pool(services), key.user_id, search_term=(search_term or "").strip() or None, sort_by="updatedAt",
            folder_id=None, root_only=False, favorites_only=False, limit=page_size, offset=(page - 1) * page_size)
        return json_response({"agents": agents, "pagination": pagination(total, page, page_size)})

    @router.get("/library/agents/{library_agent_id}", summary="One of the key owner's library agents",
                response_model=LibraryAgentView, responses=refusals(400, 404),
                dependencies=[Depends(fresh("graphs", "library", "executions"))])
    async def get_agent(library_agent_id: UuidPath, services: Services,
                        key: ApiKey = Depends(require(P.READ_LIBRARY))) -> Response:
        agent_id = parse_uuid(library_agent_id, "library_agent_id")
        found = await library_reads.get_agent(_pool(services), key.user_id, agent_id)
        if found is None:
            raise NotFoundError(f"Library agent #{agent_id} not found")
        return json_response(found)

    @router.get("/library/presets", summary="The key owner's presets, newest first", response_model=PresetPage,
                dependencies=[Depends(fresh("library"))], responses=refusals(400))
    async def list_presets(services: Services, page: int = page_q,
                           page_size: int = Query(10, ge=1, le=library_rules.MAX_PAGE_SIZE),
                           graph_id: str | None = Query(None, max_length=36),
                           key: ApiKey = Depends(require(P.READ_LIBRARY))) -> Response:
        presets, total = await library_reads.presets(
            _pool(services), key.user_id, graph_id=parse_optional_uuid(graph_id, "graph_id"), limit=page_size,
            offset=(page - 1) * page_size)
        return json_response({"presets": presets, "pagination": pagination(total, page, page_size)})

    @router.get("/library/presets/{preset_id}", summary="One of the key owner's presets", response_model=PresetView,
                dependencies=[Depends(fresh("library"))], responses=refusals(400, 404))
    async def get_preset(preset_id: UuidPath, services: Services,
                         key: ApiKey = Depends(require(P.READ_LIBRARY))) -> Response:
        preset_id = parse_uuid(preset_id, "preset_id")
        found = await library_reads.preset(_pool(services), key.user_id, preset_id)
        if found is None:
            raise NotFoundError(f"Preset #{preset_id} not found")
        return json_response(found)

    @router.post("/library/presets/{preset_id}/execute", summary="Run a preset (the given values over its own)",
                 response_model=QueuedExecution, responses=refusals(*BODY_REFUSALS, 402, 404, 429),
                 dependencies=[idempotent_key(require(P.EXECUTE_GRAPH))])
    async def execute_preset(preset_id: UuidPath, request: Request, presets: Presets,
                             inputs: dict[str, Any] = Body(default_factory=dict, embed=True),
                             credential_inputs: dict[str, Any] = Body(default_factory=dict, embed=True),
                             key: ApiKey = Depends(require(P.EXECUTE_GRAPH))) -> Response:
        await enforce(request, key_bucket(key.key_id), user_bucket(key.user_id or ""))
        meta = await asyncio.to_thread(presets.execute, owner(key), parse_uuid(preset_id, "preset_id"), inputs,
                                       credential_inputs)
        return json_response({"id": meta["id"]})


def _schedules(router: APIRouter) -> None:
    @router.get("/schedules", summary="The key owner's schedules, newest first", response_model=list[ScheduleView],
                dependencies=[Depends(fresh("schedules"))], responses=refusals(400))
    async def list_schedules(services: Services, graph_id: str | None = Query(None, max_length=36),
                             key: ApiKey = Depends(require(P.READ_SCHEDULE))) -> Response:
        return json_response(await schedule_reads.schedules(
            _pool(services), key.user_id, graph_id=parse_optional_uuid(graph_id, "graph_id")))

    @router.post("/graphs/{graph_id}/schedules", summary="Schedule runs of a graph on a cron timetable",
                 status_code=201, response_model=ScheduleView, responses=refusals(*BODY_REFUSALS, 404, 409),
                 dependencies=[idempotent_key(require(P.WRITE_SCHEDULE, P.EXECUTE_GRAPH))])
    async def create_schedule(graph_id: UuidPath, body: ScheduleCreateRequest, schedules: Schedules,
                              key: ApiKey = Depends(require(P.WRITE_SCHEDULE, P.EXECUTE_GRAPH))) -> Response:
        created = await asyncio.to_thread(
            schedules.create, owner(key), parse_uuid(graph_id, "graph_id"), graph_version=body.graph_version,
            name=body.name, cron=body.cron, inputs=body.inputs, credentials=body.credentials,
            timezone=body.timezone, preset_id=parse_optional_uuid(body.preset_id, "preset_id"))
        return json_response(created, status_code=201)

    @router.delete("/schedules/{schedule_id}", summary="Delete a schedule", response_model=ScheduleDeletedView,
                   responses=refusals(400, 404, 409))
    async def delete_schedule(schedule_id: UuidPath, schedules: Schedules,
                              key: ApiKey = Depends(require(P.WRITE_SCHEDULE))) -> Response:
        return json_response(await asyncio.to_thread(schedules.delete, owner(key),
                                                     parse_uuid(schedule_id, "schedule_id")))


def _runs(router: APIRouter) -> None:
    @router.get("/runs", summary="The key owner's runs, newest first", response_model=RunsPage,
                dependencies=[Depends(fresh("executions"))], responses=refusals(400))
    async def list_runs(services: Services, graph_id: str | None = Query(None, max_length=36),
                        page: int = page_q, page_size: int = Query(25, ge=1, le=MAX_RUNS_PAGE_SIZE),
                        key: ApiKey = Depends(require(P.READ_RUN))) -> Response:
        runs, total = await execution_reads.list_executions(
            _pool(services), key.user_id, graph_id=parse_optional_uuid(graph_id, "graph_id"), limit=page_size,
            offset=(page - 1) * page_size)
        return json_response({"executions": runs, "pagination": pagination(total, page, page_size)})

    @router.get("/runs/{run_id}", summary="One run with its node executions", response_model=GraphExecutionWithNodes,
                dependencies=[Depends(fresh("executions"))], responses=refusals(400, 404))
    async def get_run(run_id: UuidPath, services: Services, key: ApiKey = Depends(require(P.READ_RUN))) -> Response:
        run_id = parse_uuid(run_id, "run_id")
        found = await execution_reads.get_execution_at(_pool(services), key.user_id, run_id)
        if found is None:
            raise NotFoundError(f"Run #{run_id} not found")
        return json_response(found[0])

    @router.post("/runs/{run_id}/stop", summary="Stop a run and wait for its end", response_model=GraphExecutionMeta,
                 responses=refusals(400, 404, 409, 504))
    async def stop_run(run_id: UuidPath, executions: Executions,
                       key: ApiKey = Depends(require(P.WRITE_RUN))) -> Response:
        return json_response(await asyncio.to_thread(executions.stop, owner(key), None,
                                                     parse_uuid(run_id, "run_id")))


def _credits(router: APIRouter) -> None:
    @router.get("/credits", summary="The key owner's credit balance (1 credit = 1 cent)", response_model=UserCredits)
    def balance(ledger: Ledger, key: ApiKey = Depends(require(P.READ_CREDITS))) -> Response:
        return json_response({"credits": ledger.balance(key.user_id)})

    @router.get("/credits/cost-summary", summary="What the key owner's runs in a window cost",
                response_model=UserExecutionCostSummary, dependencies=[Depends(fresh("executions", "credits"))])
    async def cost_summary(services: Services, since: datetime | None = None, until: datetime | None = None,
                           top_runs_limit: int = Query(10, ge=1, le=MAX_TOP_RUNS),
                           key: ApiKey = Depends(require(P.READ_CREDITS))) -> Response:
        """The figures of ``GET /api/executions/cost-summary`` (AutoGPT's v2 serves them here)."""
        try:
            start, end = cost_window(since, until, datetime.now(UTC))
        except InvalidCommand as exc:
            raise RequestValidationError([{"loc": ("query", "since"), "msg": exc.detail, "type": "value_error"}]) \
                from None
        return json_response(await cost_reads.cost_summary(_pool(services), key.user_id, start, end, top_runs_limit))
