"""Do run inputs fit a graph version's input schema? (pure)

Used where inputs are saved to be run later (presets) and where such saved inputs are run: every
name must be one of the graph's INPUT nodes, every value of the JSON type its node accepts, and,
for a run, every required input present. Errors come in AutoGPT's ``node_errors`` shape, keyed by
the INPUT node's id (``{"value": message}``); a name no node has is reported under ``"inputs"``.
"""

from __future__ import annotations

from typing import Any

from services.domain.blocks.base import BlockType
from services.domain.blocks.registry import get_block
from services.domain.graphs import io_schema
from services.domain.graphs.rules import FIELD_REQUIRED, GraphValidationError

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "array": (list,), "object": (dict,),
}


def _fits(value: Any, schema: dict[str, Any]) -> bool:
    expected = schema.get("type")
    if not isinstance(expected, str) or expected not in _JSON_TYPES:
        return True  # anyOf / untyped inputs take anything
    if isinstance(value, bool) and expected in ("integer", "number"):
        return False
    return isinstance(value, _JSON_TYPES[expected])


def _input_nodes(body: Any) -> dict[str, str]:
    nodes: dict[str, str] = {}
    for node in body.nodes:
        block = get_block(node.block_id)
        name = node.input_default.get("name")
        if block is not None and block.block_type == BlockType.INPUT and isinstance(name, str):
            nodes.setdefault(name, node.id)
    return nodes


def input_errors(body: Any, inputs: dict[str, Any], *, for_run: bool) -> dict[str, dict[str, str]]:
    schema = io_schema.input_schema(body)
    properties, nodes = schema["properties"], _input_nodes(body)
    errors: dict[str, dict[str, str]] = {}
    for name, value in inputs.items():
        if name not in properties:
            errors.setdefault("inputs", {})[name[:100]] = f"The graph has no input named {name[:100]!r}"
        elif value is not None and not _fits(value, properties[name]):
            errors[nodes[name]] = {"value": f"Expected a value of type {properties[name]['type']}"}
    if for_run:
        for name in schema["required"]:
            if inputs.get(name) is None and name in nodes:
                errors.setdefault(nodes[name], {"value": FIELD_REQUIRED})
    return errors


def check_inputs(body: Any, inputs: dict[str, Any], *, for_run: bool) -> None:
    """Raise ``GraphValidationError`` (400 with ``node_errors``) if the inputs do not fit."""
    errors = input_errors(body, inputs, for_run=for_run)
    if errors:
        count = sum(len(e) for e in errors.values())
        raise GraphValidationError(f"Graph validation failed: {count} issues on {len(errors)} inputs", errors)
