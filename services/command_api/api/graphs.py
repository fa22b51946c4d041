"""Graph write routes (AutoGPT paths): create, new version, set active version, delete."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from schemas.graph import CreateGraphRequest, GraphInput, SetActiveVersionRequest
from services.command_api.api.deps import CurrentUser, Graphs
from services.command_api.api.idempotency import IDEMPOTENT, IdempotentRoute
from services.command_api.api.responses import ActiveGraphVersion, DeletedGraph, UpdatedGraph
from services.domain.graphs.shapes import GraphModel
from services.infra.http import UuidPath, json_response, parse_uuid
from services.infra.http_errors import BODY_REFUSALS, refusals


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/graphs", tags=["graphs"], responses=refusals(401), route_class=IdempotentRoute)

    @router.post("", summary="Create a new graph", response_model=GraphModel, responses=refusals(*BODY_REFUSALS),
                 dependencies=[IDEMPOTENT])
    def create_graph(body: CreateGraphRequest, user: CurrentUser, graphs: Graphs) -> Response:
        return json_response(graphs.create(user, body.graph))

    @router.put("/{graph_id}", summary="Record a new version of a graph", response_model=UpdatedGraph,
                responses=refusals(*BODY_REFUSALS, 404, 409))
    def update_graph(graph_id: UuidPath, body: GraphInput, user: CurrentUser, graphs: Graphs) -> Response:
        """The body's ``id``, if any, is overwritten by the URL's (AutoGPT answers 400 instead)."""
        graph = graphs.update(user, parse_uuid(graph_id, "graph_id"), body)
        return json_response({**graph, "graph": graph, "skipped_webhook_presets": []})

    @router.put("/{graph_id}/versions/active", summary="Set the active version of a graph",
                response_model=ActiveGraphVersion, responses=refusals(*BODY_REFUSALS, 404, 409))
    def set_active_version(graph_id: UuidPath, body: SetActiveVersionRequest, user: CurrentUser,
                           graphs: Graphs) -> Response:
        answer = graphs.set_active(user, parse_uuid(graph_id, "graph_id"), body.active_graph_version)
        return json_response({**answer, "skipped_webhook_presets": []})

    @router.delete("/{graph_id}", summary="Delete every version of a graph", response_model=DeletedGraph,
                   responses=refusals(400, 404, 409))
    def delete_graph(graph_id: UuidPath, user: CurrentUser, graphs: Graphs) -> Response:
        return json_response(graphs.delete(user, parse_uuid(graph_id, "graph_id")))

    return router
