"""``GET /api/public/shared/{share_token}`` (AutoGPT's path and ``SharedExecutionResponse``): a
shared run's outputs for anyone holding its link, no sign-in. Only what the run's Output blocks
produced is shown, never its inputs, node data or credentials. The read model finds the run by its
token; the answer is folded from the store, which must still say the run is shared with exactly
this token (a link revoked or a run deleted reads 404, as does any other token)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel

from services.domain.errors import NotFoundError
from services.domain.executions.views import iso, state_outputs
from services.infra.http import json_response
from services.infra.http_errors import refusals
from services.query_api.api.deps import ReadPool, require_fresh
from services.query_api.read_models.history import read_history, resolved_fold

_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,100}")
_FIND = "SELECT execution_id::text FROM rm_executions WHERE share_token = %s AND NOT is_deleted"


class SharedExecution(BaseModel):
    id: str
    graph_name: str
    graph_description: str | None
    status: str
    created_at: datetime | None
    outputs: dict[str, list[Any]]


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/public", tags=["sharing"])

    @router.get("/shared/{share_token}", summary="A shared run's outputs (no sign-in)",
                response_model=SharedExecution, responses=refusals(404, 503))
    async def shared(share_token: str, request: Request, pool: ReadPool) -> Response:
        missing = NotFoundError("Shared execution not found")
        if not _TOKEN.fullmatch(share_token):
            raise missing
        await require_fresh(request, pool, "executions")  # a link shared a moment ago is found
        async with pool.connection() as conn:
            row = await (await conn.execute(_FIND, (share_token,))).fetchone()
        if row is None:
            raise missing
        history = await read_history(pool, row[0])
        state = await resolved_fold(pool, row[0], history)
        if state.share_token != share_token or state.deleted:
            raise missing
        graph = state.graph
        return json_response({"id": state.id, "graph_name": graph.name if graph else "",
                              "graph_description": graph.description if graph else None,
                              "status": str(state.status), "created_at": iso(state.created_at),
                              "outputs": state_outputs(state)})

    return router
