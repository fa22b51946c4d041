"""Builds AutoGPT's ``GraphModel`` / ``GraphMeta`` response bodies from a stored graph version.

Both the command API (the body it returns after a write) and the projector (the body it keeps in
the read model) use this, so a graph reads the same whichever side answers.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from schemas.graph import BaseGraph, GraphVersionBody, StoredLink, StoredNode
from services.domain.blocks.base import BlockType
from services.domain.blocks.registry import get_block
from services.domain.graphs import io_schema
from services.domain.graphs.credentials import credentials_input_schema
from services.domain.graphs.review_nodes import wants_review


def _link_dict(link: Any) -> dict[str, Any]:
    return {"id": link.id, "source_id": link.source_id, "sink_id": link.sink_id,
            "source_name": link.source_name, "sink_name": link.sink_name, "is_static": link.is_static}


def _has_block_type(body: GraphVersionBody, *types: BlockType) -> bool:
    for node in body.nodes:
        block = get_block(node.block_id)
        if block is not None and block.block_type in types:
            return True
    return False


def graph_model(body: GraphVersionBody, *, user_id: str, created_at: datetime | str,
                is_active: bool = True, sub_graphs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The full graph (nodes with their links, computed schemas) as the REST API returns it."""
    links = [_link_dict(link) for link in body.links]
    nodes = []
    for node in body.nodes:
        nodes.append({
            "id": node.id, "block_id": node.block_id, "input_default": node.input_default,
            "metadata": node.metadata,
            "input_links": [lk for lk in links if lk["sink_id"] == node.id],
            "output_links": [lk for lk in links if lk["source_id"] == node.id],
            "graph_id": body.id, "graph_version": body.version, "webhook_id": None, "webhook": None,
        })
    created = created_at.isoformat() if isinstance(created_at, datetime) else created_at
    return {
        "id": body.id, "version": body.version, "is_active": is_active, "name": body.name,
        "description": body.description, "instructions": body.instructions,
        "recommended_schedule_cron": body.recommended_schedule_cron,
        "forked_from_id": body.forked_from_id, "forked_from_version": body.forked_from_version,
        "user_id": user_id, "created_at": created,
        "nodes": nodes, "links": links, "sub_graphs": sub_graphs or [],
        "input_schema": io_schema.input_schema(body), "output_schema": io_schema.output_schema(body),
        "credentials_input_schema": credentials_input_schema(body),
        "has_external_trigger": _has_block_type(body, BlockType.WEBHOOK, BlockType.WEBHOOK_MANUAL),
        "has_human_in_the_loop": any(wants_review(n.block_id, n.metadata) for n in body.nodes),
        "has_sensitive_action": False, "trigger_setup_info": None,
    }


META_KEYS = ("id", "version", "is_active", "name", "description", "instructions", "recommended_schedule_cron",
             "forked_from_id", "forked_from_version", "user_id", "created_at", "input_schema", "output_schema",
             "credentials_input_schema", "has_external_trigger", "has_human_in_the_loop", "has_sensitive_action",
             "trigger_setup_info")


def graph_meta(model: dict[str, Any]) -> dict[str, Any]:
    """``GraphMeta``: the graph without nodes and links (list endpoints)."""
    return {k: model.get(k) for k in META_KEYS}


def to_version_body(graph: BaseGraph, version: int) -> GraphVersionBody:
    """A submitted graph as the stored version ``version`` (a link without an id gets one)."""
    return GraphVersionBody(
        id=str(graph.id), version=version, name=graph.name, description=graph.description,
        instructions=graph.instructions, recommended_schedule_cron=graph.recommended_schedule_cron,
        forked_from_id=graph.forked_from_id, forked_from_version=graph.forked_from_version,
        nodes=[StoredNode(id=n.id, block_id=n.block_id, input_default=n.input_default, metadata=n.metadata)
               for n in graph.nodes],
        links=[StoredLink(id=lk.id or str(uuid.uuid4()), source_id=lk.source_id, sink_id=lk.sink_id,
                          source_name=lk.source_name, sink_name=lk.sink_name, is_static=lk.is_static)
               for lk in graph.links],
    )
