"""Execution write routes (AutoGPT paths): execute a graph version, stop an execution."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from services.command_api.api.deps import CurrentUser, Executions, Presets
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
    def execute_graph(graph_id: UuidPath, user: CurrentUser, executions: Executions, presets: Presets,
                      graph_version: int = Path(ge=1, le=MAX_VERSION), body: ExecuteGraphRequest | None = None,
                      preset_id: str | None = Query(default=None, max_length=36)) -> Response:
        body = body or ExecuteGraphRequest()
        graph_id = parse_uuid(graph_id, "graph_id")
        inputs, credentials = body.inputs, body.credentials_inputs
        if preset_id is not None:  # the preset's values under the request's, as a preset run merges them
            preset_id = parse_uuid(preset_id, "preset_id")
            inputs, credentials = presets.for_run(user, preset_id, graph_id, graph_version, inputs, credentials)
        return json_response(executions.execute(user, graph_id, graph_version, inputs, credentials, preset_id,
                                                dry_run=body.dry_run))

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
