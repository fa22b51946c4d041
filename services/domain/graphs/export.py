"""An exported graph made safe to share: no secrets, no webhooks (AutoGPT's export stripping)."""

from __future__ import annotations

import copy
from typing import Any

from services.domain.blocks.base import BlockType
from services.domain.blocks.registry import get_block

_SENSITIVE_KEY_PARTS = ("credentials", "api_key", "password", "token", "secret")


def strip_for_export(graph_dict: dict[str, Any]) -> dict[str, Any]:
    """A copy of an exported graph (and its sub-graphs) safe to share: no secrets, no webhooks."""
    result = copy.deepcopy(graph_dict)
    for g in [result, *(result.get("sub_graphs") or [])]:
        for node in g.get("nodes") or []:
            _strip_node(node)
    return result


def _strip_node(node: dict[str, Any]) -> None:
    block = get_block(str(node.get("block_id", "")))
    schema = block.input_schema() if block is not None else {}
    node["input_default"] = _without_secrets(node.get("input_default") or {}, schema)
    if block is not None and block.block_type == BlockType.INPUT and node["input_default"].get("secret") is True:
        node["input_default"].pop("value", None)
    node["webhook_id"] = None
    if "webhook" in node:
        node["webhook"] = None


def _without_secrets(data: dict[str, Any], schema: Any) -> dict[str, Any]:
    """Drop schema-secret fields and keys that look sensitive (bools kept: they are flags)."""
    props = schema.get("properties") if isinstance(schema, dict) else None
    props = props if isinstance(props, dict) else {}
    kept: dict[str, Any] = {}
    for key, value in data.items():
        field = props.get(key)
        if isinstance(field, dict) and field.get("secret"):
            continue
        if type(value) is not bool and any(part in key.lower() for part in _SENSITIVE_KEY_PARTS):
            continue
        kept[key] = _without_secrets(value, field) if isinstance(value, dict) else value
    return kept
