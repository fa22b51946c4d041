"""A graph's run inputs and outputs as JSON schemas (AutoGPT's ``input_schema``/``output_schema``),
and the nodes a run starts with. Pure: read from the graph's INPUT/OUTPUT nodes and the blocks' own
schemas."""

from __future__ import annotations

import copy
from typing import Any

from services.domain.blocks.base import Block, BlockType
from services.domain.blocks.registry import get_block


def input_schema(graph: Any) -> dict[str, Any]:
    """The graph's run inputs as a JSON schema, one property per INPUT node ``name``."""
    return _io_schema(graph, BlockType.INPUT)


def output_schema(graph: Any) -> dict[str, Any]:
    """The graph's outputs, one property per OUTPUT node; outputs hold no value, so all are required."""
    return _io_schema(graph, BlockType.OUTPUT)


def _io_schema(graph: Any, block_type: BlockType) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    for node in graph.nodes:
        block = get_block(node.block_id)
        if block is None or block.block_type != block_type:
            continue
        settings = _settings(block, node.input_default)
        name = settings.get("name")
        if not isinstance(name, str) or not name:
            continue  # an unnamed I/O node cannot be addressed; validation reports it
        properties[name] = _io_property(block, settings, name)
        if settings.get("value") is None and name not in required:
            required.append(name)
    return {"type": "object", "properties": properties, "required": required}


def _settings(block: type[Block], input_default: dict[str, Any]) -> dict[str, Any]:
    """The node's effective input: block defaults (e.g. a toggle's False) overlaid by the node's."""
    fields = block.Input.model_fields
    merged = {n: f.get_default(call_default_factory=True) for n, f in fields.items() if not f.is_required()}
    merged.update(input_default)
    return merged


def _io_property(block: type[Block], s: dict[str, Any], name: str) -> dict[str, Any]:
    # The typed variants' ``value`` schema (type, format) describes what the input accepts.
    value_schema = copy.deepcopy(block.input_schema().get("properties", {}).get("value", {}))
    prop = {k: v for k, v in value_schema.items() if k not in ("description", "default")}
    if block.block_type == BlockType.INPUT and s.get("placeholder_values"):
        prop["enum"] = list(s["placeholder_values"])
    prop["secret"] = bool(s.get("secret"))
    prop["advanced"] = bool(s.get("advanced")) and s.get("value") is not None  # needs a default
    prop["title"] = s.get("title") or name
    if s.get("description"):
        prop["description"] = s["description"]
    if s.get("value") is not None:
        prop["default"] = s["value"]
    return prop


def starting_nodes(graph: Any) -> list[Any]:
    """Nodes a run begins with: those no link feeds, plus every INPUT node. Notes never run."""
    fed = {link.sink_id for link in graph.links}
    result = []
    for node in graph.nodes:
        block = get_block(node.block_id)
        block_type = block.block_type if block is not None else None
        if block_type != BlockType.NOTE and (node.id not in fed or block_type == BlockType.INPUT):
            result.append(node)
    return result
