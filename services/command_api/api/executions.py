"""Execution write routes (AutoGPT paths): execute a graph version, stop an execution."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from services.infra.auth import User
from services.infra.http import BODY_REFUSALS, MAX_VERSION, UuidPath, parse_uuid, refusals
from services.infra.ratelimit import execute_limit


class ExecuteGraphRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    inputs: dict[str, Any] = Field(default_factory=dict)
    credentials_inputs: dict[str, Any] = Field(default_factory=dict)
    source: str | None = None
    dry_run: bool = False


def build_router(current_user) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["executions"], responses=refusals(401))

    def commands(request: Request):
        return request.app.state.execution_commands

    @router.post("/graphs/{graph_id}/execute/{graph_version}", summary="Queue an execution of a graph version",
                 dependencies=[Depends(execute_limit(current_user))],
                 responses=refusals(*BODY_REFUSALS, 402, 404, 429))
    def execute_graph(graph_id: UuidPath, request: Request, graph_version: int = Path(ge=1, le=MAX_VERSION),
                      body: ExecuteGraphRequest | None = None,
                      preset_id: str | None = None, user: User = Depends(current_user)) -> dict[str, Any]:
        body = body or ExecuteGraphRequest()
        return commands(request).execute(user, parse_uuid(graph_id, "graph_id"), graph_version, body.inputs,
                                         body.credentials_inputs, preset_id)

    @router.post("/graphs/{graph_id}/executions/{graph_exec_id}/stop", summary="Stop an execution and wait for its end",
                 responses=refusals(400, 404, 409, 504))
    def stop_execution(graph_id: UuidPath, graph_exec_id: UuidPath, request: Request,
                       user: User = Depends(current_user)) -> dict[str, Any]:
        return commands(request).stop(user, parse_uuid(graph_id, "graph_id"),
                                      parse_uuid(graph_exec_id, "graph_exec_id"))

    @router.delete("/executions/{graph_exec_id}", status_code=204, summary="Delete an execution (soft)",
                   responses=refusals(400, 404, 409))
    def delete_execution(graph_exec_id: UuidPath, request: Request, user: User = Depends(current_user)) -> None:
        commands(request).delete(user, parse_uuid(graph_exec_id, "graph_exec_id"))

    return router
