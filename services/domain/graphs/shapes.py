"""AutoGPT's graph response shapes (``GraphModel``, ``GraphMeta``), as the REST API documents them.

``model.graph_model`` builds the one body both APIs answer with (the command API after a write, the
query API from its read model), so these shapes document both; the routes hand the built dicts over
as they are and name the shape only for OpenAPI. Open-ended parts (a node's ``input_default`` and
``metadata``, the computed JSON schemas) stay ``dict[str, Any]``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class LinkModel(BaseModel):
    id: str
    source_id: str
    sink_id: str
    source_name: str
    sink_name: str
    is_static: bool


class NodeModel(BaseModel):
    id: str
    block_id: str
    input_default: dict[str, Any]
    metadata: dict[str, Any]
    input_links: list[LinkModel]
    output_links: list[LinkModel]
    graph_id: str
    graph_version: int
    webhook_id: str | None
    webhook: dict[str, Any] | None


class GraphMeta(BaseModel):
    """A graph version without its nodes and links (list endpoints)."""

    id: str
    version: int
    is_active: bool
    name: str
    description: str
    instructions: str | None
    recommended_schedule_cron: str | None
    forked_from_id: str | None
    forked_from_version: int | None
    user_id: str
    created_at: datetime
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    credentials_input_schema: dict[str, Any]
    has_external_trigger: bool
    has_human_in_the_loop: bool
    has_sensitive_action: bool
    trigger_setup_info: dict[str, Any] | None


class GraphModel(GraphMeta):
    """A full graph version, with the sub-graphs its AgentExecutor nodes run (each a full version)."""

    nodes: list[NodeModel]
    links: list[LinkModel]
    sub_graphs: list[GraphModel]
