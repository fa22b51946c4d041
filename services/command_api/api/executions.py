"""Execution write routes (AutoGPT paths): execute a graph version, stop an execution."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from services.command_api.api.deps import CurrentUser, Executions
from services.domain.executions.shapes import GraphExecutionMeta
from services.infra.http import MAX_VERSION, UuidPath, current_user, json_response, parse_uuid
from services.infra.http_errors import BODY_REFUSALS, refusals
from services.infra.ratelimit import execute_limit


class ExecuteGraphRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    inputs: dict[str, Any] = Field(default_factory=dict)
    credentials_inputs: dict[str, Any] = Field(default_factory=dict)
    source: str | None = None
    dry_run: bool = False


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api", tags=["executions"], responses=refusals(401))

    @router.post("/graphs/{graph_id}/execute/{graph_version}", summary="Queue an execution of a graph version",
                 dependencies=[Depends(execute_limit(current_user))], response_model=GraphExecutionMeta,
                 responses=refusals(*BODY_REFUSALS, 402, 404, 429))
    def execute_graph(graph_id: UuidPath, user: CurrentUser, executions: Executions,
                      graph_version: int = Path(ge=1, le=MAX_VERSION), body: ExecuteGraphRequest | None = None,
                      preset_id: str | None = None) -> Response:
        body = body or ExecuteGraphRequest()
        return json_response(executions.execute(user, parse_uuid(graph_id, "graph_id"), graph_version, body.inputs,
                                                body.credentials_inputs, preset_id, dry_run=body.dry_run))

    @router.post("/graphs/{graph_id}/executions/{graph_exec_id}/stop", summary="Stop an execution and wait for its end",
                 response_model=GraphExecutionMeta, responses=refusals(400, 404, 409, 504))
    def stop_execution(graph_id: UuidPath, graph_exec_id: UuidPath, user: CurrentUser,
                       executions: Executions) -> Response:
        return json_response(executions.stop(user, parse_uuid(graph_id, "graph_id"),
                                             parse_uuid(graph_exec_id, "graph_exec_id")))

    @router.delete("/executions/{graph_exec_id}", status_code=204, summary="Delete an execution (soft)",
                   responses=refusals(400, 404, 409))
    def delete_execution(graph_exec_id: UuidPath, user: CurrentUser, executions: Executions) -> None:
        executions.delete(user, parse_uuid(graph_exec_id, "graph_exec_id"))

    return router
