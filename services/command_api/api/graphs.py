"""Graph write routes (AutoGPT paths): create, new version, set active version, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from schemas.graph import CreateGraphRequest, GraphInput, SetActiveVersionRequest
from services.infra.auth import User
from services.infra.http import BODY_REFUSALS, UuidPath, parse_uuid, refusals


def build_router(current_user) -> APIRouter:
    router = APIRouter(prefix="/api/graphs", tags=["graphs"], responses=refusals(401))

    def commands(request: Request):
        return request.app.state.graph_commands

    @router.post("", summary="Create a new graph", responses=refusals(*BODY_REFUSALS))
    def create_graph(body: CreateGraphRequest, request: Request, user: User = Depends(current_user)) -> dict[str, Any]:
        return commands(request).create(user, body.graph)

    @router.put("/{graph_id}", summary="Record a new version of a graph",
                responses=refusals(*BODY_REFUSALS, 404, 409))
    def update_graph(graph_id: UuidPath, body: GraphInput, request: Request,
                     user: User = Depends(current_user)) -> dict[str, Any]:
        return commands(request).update(user, parse_uuid(graph_id, "graph_id"), body)

    @router.put("/{graph_id}/versions/active", summary="Set the active version of a graph",
                responses=refusals(*BODY_REFUSALS, 404, 409))
    def set_active_version(graph_id: UuidPath, body: SetActiveVersionRequest, request: Request,
                           user: User = Depends(current_user)) -> dict[str, Any]:
        return commands(request).set_active(user, parse_uuid(graph_id, "graph_id"), body.active_graph_version)

    @router.delete("/{graph_id}", summary="Delete every version of a graph", responses=refusals(400, 404, 409))
    def delete_graph(graph_id: UuidPath, request: Request, user: User = Depends(current_user)) -> dict[str, Any]:
        return commands(request).delete(user, parse_uuid(graph_id, "graph_id"))

    return router
