"""Audit replay routes: an execution's full history from the store, and its state at any event."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from services.infra.auth import User
from services.domain.executions.audit import state_at, with_causes
from services.infra.http import MAX_SEQ, BadRequest, NotFound, UuidPath, json_response, parse_uuid, refusals
from services.query_api.read_models.history import owner, read_history, resolved_fold, resolved_payloads


def build_router(current_user) -> APIRouter:
    router = APIRouter(prefix="/api/executions", tags=["audit"], responses=refusals(401, 400, 404))

    async def owned_history(request: Request, user: User, graph_exec_id: str, upto: int | None = None):
        execution_id = parse_uuid(graph_exec_id, "graph_exec_id")
        history = await read_history(request.app.state.read_pool, execution_id, upto)
        if not history or owner(history) != user.id:
            raise NotFound(f"Graph execution #{graph_exec_id} not found")
        return execution_id, history

    @router.get("/{graph_exec_id}/events", summary="The execution's complete event history, in order")
    async def events(graph_exec_id: UuidPath, request: Request, user: User = Depends(current_user)):
        execution_id, history = await owned_history(request, user, graph_exec_id)
        entries = with_causes(await resolved_payloads(request.app.state.read_pool, history))
        return json_response({"execution_id": execution_id, "events": entries})

    @router.get("/{graph_exec_id}/state", summary="The execution as it stood after event at_seq")
    async def state(graph_exec_id: UuidPath, request: Request, at_seq: int | None = Query(default=None, ge=1, le=MAX_SEQ),
                    user: User = Depends(current_user)):
        execution_id, history = await owned_history(request, user, graph_exec_id, at_seq)
        if at_seq is not None and history[-1][0] < at_seq:
            raise BadRequest(f"at_seq {at_seq} is past the last event (#{history[-1][0]})")
        return json_response(state_at(await resolved_fold(request.app.state.read_pool, execution_id, history)))

    return router
