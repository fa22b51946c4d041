"""``GET /api/executions/{id}/lineage``: the runs a run branched off (retries and forks, up the
chain) and the runs that branched off it, from the store (each run's ``ExecutionQueued`` names its
origin; the origin's ``ExecutionBranched`` events name its branches)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel

from services.domain.errors import NotFoundError
from services.infra.http import CurrentUser, UuidPath, json_response, parse_uuid
from services.infra.http_errors import refusals
from services.query_api.api.deps import ReadPool
from services.query_api.read_models.history import fold, owner, read_history

MAX_ANCESTORS = 50  # a chain of retries of retries is shown this far up


class BranchPoint(BaseModel):
    execution_id: str
    kind: Literal["retry", "fork"]
    at_seq: int


class Lineage(BaseModel):
    execution_id: str
    branched_from: BranchPoint | None  # the run this one retries or forks, and where
    ancestors: list[BranchPoint]  # branched_from, then where that run branched off, and so on up
    branches: list[BranchPoint]  # retries and forks of this run (execution_id: the new run)


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/executions", tags=["audit"], responses=refusals(401, 400, 404))

    @router.get("/{graph_exec_id}/lineage", summary="The runs an execution branched off and its branches",
                response_model=Lineage)
    async def lineage(graph_exec_id: UuidPath, user: CurrentUser, pool: ReadPool) -> Response:
        execution_id = parse_uuid(graph_exec_id, "graph_exec_id")
        history = await read_history(pool, execution_id)
        if not history or owner(history) != user.id:
            raise NotFoundError(f"Graph execution #{graph_exec_id} not found")
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
