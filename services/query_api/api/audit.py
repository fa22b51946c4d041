"""Audit replay routes: an execution's full history from the store, its state at any event, two
runs compared node by node, and its lineage (each run's ``ExecutionQueued`` names the run it
branched off; that run's ``ExecutionBranched`` events name its branches)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Query
from fastapi.responses import Response

from services.domain.errors import InvalidCommand, NotFoundError
from services.domain.executions.audit import state_at, with_causes
from services.domain.executions.diff import execution_diff
from services.domain.executions.results import GraphExecutionResult, execution_results
from services.domain.executions.shapes import ExecutionDiff, ExecutionHistory, ExecutionStateAt, Lineage
from services.infra.auth import User
from services.infra.http import MAX_SEQ, CurrentUser, UuidPath, json_response, parse_uuid
from services.infra.http_errors import refusals
from services.query_api.api.deps import ReadPool
from services.query_api.read_models.history import fold, owner, read_history, resolved_fold, resolved_payloads

MAX_ANCESTORS = 50  # a chain of retries of retries is shown this far up


async def _owned_history(pool: ReadPool, user: User, graph_exec_id: str, upto: int | None = None):
    execution_id = parse_uuid(graph_exec_id, "graph_exec_id")
    history = await read_history(pool, execution_id, upto)
    if not history or owner(history) != user.id:
        raise NotFoundError(f"Graph execution #{graph_exec_id} not found")
    return execution_id, history


async def _owned_state(pool: ReadPool, user: User, graph_exec_id: str):
    """The caller's own run folded from the store, large values resolved (as ``/state`` shows it)."""
    execution_id, history = await _owned_history(pool, user, graph_exec_id)
    return await resolved_fold(pool, execution_id, history)


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/executions", tags=["audit"], responses=refusals(401, 400, 404))

    @router.get("/{graph_exec_id}/events", summary="The execution's complete event history, in order",
                response_model=ExecutionHistory)
    async def events(graph_exec_id: UuidPath, user: CurrentUser, pool: ReadPool) -> Response:
        execution_id, history = await _owned_history(pool, user, graph_exec_id)
        entries = with_causes(await resolved_payloads(pool, history))
        return json_response({"execution_id": execution_id, "events": entries})

    @router.get("/{graph_exec_id}/results", summary="The execution's outputs and each node's input and output",
                response_model=GraphExecutionResult)
    async def results(graph_exec_id: UuidPath, user: CurrentUser, pool: ReadPool) -> Response:
        """AutoGPT's external ``GraphExecutionResult`` on the user API (the seed's path)."""
        return json_response(execution_results(await _owned_state(pool, user, graph_exec_id)))

    @router.get("/{graph_exec_id}/state", summary="The execution as it stood after event at_seq",
                response_model=ExecutionStateAt)
    async def state(graph_exec_id: UuidPath, user: CurrentUser, pool: ReadPool,
                    at_seq: int | None = Query(default=None, ge=1, le=MAX_SEQ)) -> Response:
        execution_id, history = await _owned_history(pool, user, graph_exec_id, at_seq)
        if at_seq is not None and history[-1][0] < at_seq:
            raise InvalidCommand(f"at_seq {at_seq} is past the last event (#{history[-1][0]})")
        return json_response(state_at(await resolved_fold(pool, execution_id, history)))

    @router.get("/{graph_exec_id}/diff/{other_exec_id}", summary="Two of the caller's runs compared node by node",
                response_model=ExecutionDiff)
    async def diff(graph_exec_id: UuidPath, other_exec_id: UuidPath, user: CurrentUser, pool: ReadPool) -> Response:
        # both ids checked before either read, so a malformed one answers 400 whatever the other is
        parse_uuid(graph_exec_id, "graph_exec_id")
        parse_uuid(other_exec_id, "other_exec_id")
        a, b = await asyncio.gather(_owned_state(pool, user, graph_exec_id), _owned_state(pool, user, other_exec_id))
        return json_response(execution_diff(a, b))

    @router.get("/{graph_exec_id}/lineage", summary="The runs an execution branched off and its branches",
                response_model=Lineage)
    async def lineage(graph_exec_id: UuidPath, user: CurrentUser, pool: ReadPool) -> Response:
        execution_id, history = await _owned_history(pool, user, graph_exec_id)
        state = fold(execution_id, history)
        ancestors, origin = [], state.branched_from
        while origin is not None and len(ancestors) < MAX_ANCESTORS:
            ancestors.append(origin.model_dump())
            first = await read_history(pool, origin.execution_id, 1)
            if not first or owner(first) != user.id:
                break
            origin = getattr(first[0][3], "branched_from", None)
        return json_response({"execution_id": execution_id, "branched_from": ancestors[0] if ancestors else None,
                              "ancestors": ancestors, "branches": [b.model_dump() for b in state.branches]})

    return router
