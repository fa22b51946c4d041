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
from typing import Any

from fastapi import APIRouter, Body, Depends, Path, Request, Security
from fastapi.security import APIKeyHeader

from schemas.events.apikeys import ApiKeyPermission as P
from schemas.graph import CreateGraphRequest
from services.command_api.api.blocks import run_block_directly
from services.domain.apikeys.api_key import ApiKey
from services.infra.auth import User
from services.infra.http import BODY_REFUSALS, MAX_VERSION, Forbidden, UuidPath, parse_uuid, refusals
from services.domain.credits.pricing import block_catalogue
from services.infra.ratelimit import enforce, key_bucket, user_bucket
from services.domain.executions.status import ExecutionStatus
from services.domain.executions.views import state_outputs

USER_TIMEZONE_NOT_SET = "not-set"  # AutoGPT's value for a user without a chosen time zone
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An agentloom API key (agpt_…)")


def require(*permissions: P):
    """Dependency: the ACTIVE key presented in ``X-API-Key`` holding every given permission."""

    async def authorized(request: Request, presented: str | None = Security(_api_key_header)) -> ApiKey:
        key = await asyncio.to_thread(request.app.state.api_key_commands.authenticate, presented)
        await request.app.state.command_services.key_usage.touch(key.key_id)
        missing = [p.value for p in permissions if not key.allows(p)]
        if missing:
            raise Forbidden(f"API key lacks the required permission(s): {', '.join(missing)}")
        return key

    return authorized


def owner(key: ApiKey) -> User:
    return User(id=key.user_id or "", email=key.user_email)


def _catalogue() -> list[dict[str, Any]]:
    return block_catalogue()


def execution_results(state) -> dict[str, Any]:
    """AutoGPT's ``GraphExecutionResult``: per node execution its input and outputs, and the graph
    outputs as ``[{name: value}]`` once the run COMPLETED (``null`` before or otherwise)."""
    nodes = sorted(state.node_execs.values(), key=lambda ne: ne.added_seq)
    output = None
    if state.status == ExecutionStatus.COMPLETED:
        output = [{name: value} for name, values in state_outputs(state).items()
                  for value in values]
    return {"execution_id": state.id, "status": state.status, "output": output,
            "nodes": [{"node_id": ne.node_id,
                       "input": ne.input_data if ne.input_data is not None else dict(ne.pins),
                       "output": ne.output_data()} for ne in nodes]}


def build_router() -> APIRouter:
    # every route: 401 without a usable key, 403 for a key without the permission
    router = APIRouter(prefix="/external-api/v1", tags=["external"], responses=refusals(401, 403))

    @router.get("/me", summary="The API key owner")
    async def me(key: ApiKey = Depends(require(P.IDENTITY))) -> dict[str, Any]:
        return {"id": key.user_id, "name": None, "email": key.user_email, "timezone": USER_TIMEZONE_NOT_SET}

    @router.get("/blocks", summary="Every enabled block")
    async def list_blocks(key: ApiKey = Depends(require(P.READ_BLOCK))) -> list[dict[str, Any]]:
        return _catalogue()

    @router.post("/blocks/{block_id}/execute", summary="Run one block with the given input",
                 responses=refusals(*BODY_REFUSALS, 402, 404))
    async def execute_block(block_id: str, request: Request, data: dict[str, Any] = Body(default_factory=dict),
                            key: ApiKey = Depends(require(P.EXECUTE_BLOCK))) -> dict[str, list[Any]]:
        services = request.app.state.command_services
        return await run_block_directly(block_id, data, key.user_id, **services.block_ports())

    @router.post("/graphs", summary="Create a graph (AutoGPT also adds it to the library)",
                 responses=refusals(*BODY_REFUSALS))
    def create_graph(body: CreateGraphRequest, request: Request,
                     key: ApiKey = Depends(require(P.WRITE_GRAPH, P.WRITE_LIBRARY))) -> dict[str, Any]:
        return request.app.state.graph_commands.create(owner(key), body.graph)

    @router.post("/graphs/{graph_id}/execute/{graph_version}", summary="Queue an execution of a graph version",
                 responses=refusals(*BODY_REFUSALS, 402, 404, 429))
    async def execute_graph(graph_id: UuidPath, request: Request, graph_version: int = Path(ge=1, le=MAX_VERSION),
                            node_input: dict[str, Any] = Body(default_factory=dict, embed=True),
                            key: ApiKey = Depends(require(P.EXECUTE_GRAPH))) -> dict[str, Any]:
        await enforce(request, key_bucket(key.key_id), user_bucket(key.user_id or ""))
        meta = await asyncio.to_thread(request.app.state.execution_commands.execute, owner(key),
                                       parse_uuid(graph_id, "graph_id"), graph_version, node_input, {})
        return {"id": meta["id"]}

    @router.get("/graphs/{graph_id}/executions/{graph_exec_id}/results", summary="An execution's results",
                responses=refusals(400, 404))
    def execution_result(graph_id: UuidPath, graph_exec_id: UuidPath, request: Request,
                         key: ApiKey = Depends(require(P.READ_GRAPH))) -> dict[str, Any]:
        state = request.app.state.execution_commands.resolved_state(
            owner(key), parse_uuid(graph_id, "graph_id"), parse_uuid(graph_exec_id, "graph_exec_id"))
        return execution_results(state)

    return router
