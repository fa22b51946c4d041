"""Execution write routes: execute a graph version, stop an execution (AutoGPT paths), and retry or
fork one (agentloom's: a new run that takes over the completed work of the one it branches off)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from services.command_api.api.deps import CurrentUser, Executions, Graphs, Presets, Shares
from services.command_api.api.idempotency import IDEMPOTENT, IdempotentRoute
from services.domain.executions.shapes import GraphExecutionMeta
from services.infra.http import MAX_SEQ, MAX_VERSION, UuidPath, current_user, json_response, parse_uuid
from services.infra.http_errors import BODY_REFUSALS, refusals
from services.infra.ratelimit import execute_limit

MAX_SOURCE = 64
SOURCE_PATTERN = r"^[A-Za-z0-9_.:-]+$"


class ExecuteGraphRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    inputs: dict[str, Any] = Field(default_factory=dict)
    credentials_inputs: dict[str, Any] = Field(default_factory=dict)
    source: str | None = Field(default=None, min_length=1, max_length=MAX_SOURCE, pattern=SOURCE_PATTERN,
                               description="What started the run (AutoGPT: library, builder, …); recorded in "
                                           "its ExecutionQueued event")
    dry_run: bool = False


class ShareLink(BaseModel):
    share_url: str
    share_token: str


MAX_NODE_INPUTS = 1000  # nodes a fork may give new inputs


class RetryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    graph_version: int | None = Field(default=None, ge=1, le=MAX_VERSION,
                                      description="Run this version instead of the original's (nodes whose block "
                                                  "and inputs are unchanged are still taken over)")


class ForkRequest(RetryRequest):
    at_seq: int = Field(ge=1, le=MAX_SEQ, description="The original's event after which the fork branches off")
    inputs: dict[str, Any] = Field(default_factory=dict, description="Graph inputs laid over the original's")
    node_inputs: dict[str, dict[str, Any]] = Field(default_factory=dict, max_length=MAX_NODE_INPUTS,
                                                   description="Per node id, input values laid over the node's")


def _execute(executions, presets, user, graph_id: str, graph_version: int, body: ExecuteGraphRequest | None,
             preset_id: str | None) -> Response:
    body = body or ExecuteGraphRequest()
    inputs, credentials = body.inputs, body.credentials_inputs
    if preset_id is not None:  # the preset's values under the request's, as a preset run merges them
        preset_id = parse_uuid(preset_id, "preset_id")
        inputs, credentials = presets.for_run(user, preset_id, graph_id, graph_version, inputs, credentials)
    return json_response(executions.execute(user, graph_id, graph_version, inputs, credentials, preset_id,
                                            dry_run=body.dry_run, source=body.source))


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api", tags=["executions"], responses=refusals(401), route_class=IdempotentRoute)

    @router.post("/graphs/{graph_id}/execute/{graph_version}", summary="Queue an execution of a graph version",
                 dependencies=[IDEMPOTENT, Depends(execute_limit(current_user))], response_model=GraphExecutionMeta,
                 responses=refusals(*BODY_REFUSALS, 402, 404, 429))
    def execute_graph(graph_id: UuidPath, user: CurrentUser, executions: Executions, presets: Presets,
                      graph_version: int = Path(ge=1, le=MAX_VERSION), body: ExecuteGraphRequest | None = None,
                      preset_id: str | None = Query(default=None, max_length=36)) -> Response:
        return _execute(executions, presets, user, parse_uuid(graph_id, "graph_id"), graph_version, body, preset_id)

    @router.post("/graphs/{graph_id}/execute", summary="Queue an execution of the graph's active version",
                 dependencies=[IDEMPOTENT, Depends(execute_limit(current_user))], response_model=GraphExecutionMeta,
                 responses=refusals(*BODY_REFUSALS, 402, 404, 429))
    def execute_active(graph_id: UuidPath, user: CurrentUser, executions: Executions, presets: Presets,
                       graphs: Graphs, body: ExecuteGraphRequest | None = None,
                       preset_id: str | None = Query(default=None, max_length=36)) -> Response:
        """The seed's path (AutoGPT needs the version in it): the version the owner made active."""
        graph_id = parse_uuid(graph_id, "graph_id")
        version = graphs.version_for_run(user, graph_id, None).version
        return _execute(executions, presets, user, graph_id, version, body, preset_id)

    @router.post("/graphs/{graph_id}/executions/{graph_exec_id}/stop", summary="Stop an execution and wait for its end",
                 response_model=GraphExecutionMeta, responses=refusals(400, 404, 409, 504))
    def stop_execution(graph_id: UuidPath, graph_exec_id: UuidPath, user: CurrentUser,
                       executions: Executions) -> Response:
        return json_response(executions.stop(user, parse_uuid(graph_id, "graph_id"),
                                             parse_uuid(graph_exec_id, "graph_exec_id")))

    @router.post("/graphs/{graph_id}/executions/{graph_exec_id}/share", summary="Share an ended run's outputs",
                 response_model=ShareLink, responses=refusals(400, 404, 409))
    def share_execution(graph_id: UuidPath, graph_exec_id: UuidPath, user: CurrentUser, shares: Shares) -> Response:
        return json_response(shares.share(user, parse_uuid(graph_id, "graph_id"),
                                          parse_uuid(graph_exec_id, "graph_exec_id")))

    @router.delete("/graphs/{graph_id}/executions/{graph_exec_id}/share", status_code=204,
                   summary="Stop sharing a run (its link reads nothing any more)", responses=refusals(400, 404, 409))
    def unshare_execution(graph_id: UuidPath, graph_exec_id: UuidPath, user: CurrentUser, shares: Shares) -> None:
        shares.unshare(user, parse_uuid(graph_id, "graph_id"), parse_uuid(graph_exec_id, "graph_exec_id"))

    branching = {"dependencies": [IDEMPOTENT, Depends(execute_limit(current_user))],
                 "response_model": GraphExecutionMeta, "responses": refusals(*BODY_REFUSALS, 402, 404, 409, 429)}

    @router.post("/executions/{graph_exec_id}/retry", summary="Retry an ended execution, reusing its completed nodes",
                 **branching)
    def retry_execution(graph_exec_id: UuidPath, user: CurrentUser, executions: Executions,
                        body: RetryRequest | None = None) -> Response:
        body = body or RetryRequest()
        return json_response(executions.branch(user, parse_uuid(graph_exec_id, "graph_exec_id"), "retry",
                                               graph_version=body.graph_version))

    @router.post("/executions/{graph_exec_id}/fork", summary="Fork an execution after one of its events",
                 **branching)
    def fork_execution(graph_exec_id: UuidPath, body: ForkRequest, user: CurrentUser,
                       executions: Executions) -> Response:
        return json_response(executions.branch(user, parse_uuid(graph_exec_id, "graph_exec_id"), "fork",
                                               at_seq=body.at_seq, inputs=body.inputs, node_inputs=body.node_inputs,
                                               graph_version=body.graph_version))

    @router.delete("/executions/{graph_exec_id}", status_code=204, summary="Delete an execution (soft)",
                   responses=refusals(400, 404, 409))
    def delete_execution(graph_exec_id: UuidPath, user: CurrentUser, executions: Executions) -> None:
        executions.delete(user, parse_uuid(graph_exec_id, "graph_exec_id"))

    return router
