"""Which credentials a graph needs, how a run's ``credentials_inputs`` reach its nodes, and the
run-time credential checks (COMPAT §1.7 C, §3.1).

A block asks for credentials through an input field named ``credentials`` or ``*_credentials``
whose schema lists the providers and types it accepts. When the field has a ``discriminator``
(LLM blocks: ``model``), the node's value of that input narrows the providers to the one serving
it. Fields asking for the same providers and types are merged into one graph-level input named
``{providers}_{types}_credentials`` (e.g. ``openai_api_key_credentials``), so one credential picked
at run time feeds every node that needs it. All pure: the caller supplies the credential lookup.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from services.domain.blocks.registry import get_block
from services.domain.integrations.credentials import CredentialsMeta

REQUIRED = "These credentials are required"
MISMATCH = "Invalid credentials: type/provider mismatch"


def is_credentials_field_name(name: str) -> bool:
    return name == "credentials" or name.endswith("_credentials")


@dataclass
class CredentialsSlot:
    """One node's credentials field, with the providers it accepts for this node's input."""

    node_id: str
    field_name: str
    providers: list[str]
    types: list[str]
    optional: bool
    schema: dict[str, Any]
    discriminator_value: Any = None

    @property
    def key(self) -> str:
        if self.providers and self.types:
            return f"{'_'.join(sorted(self.providers))}_{'_'.join(sorted(self.types))}_credentials"
        return self.field_name


@dataclass
class _Group:
    schema: dict[str, Any]
    slots: list[CredentialsSlot] = field(default_factory=list)
    values: set[str] = field(default_factory=set)


def _graphs(graph: Any) -> list[Any]:
    return [graph, *(getattr(graph, "sub_graphs", None) or [])]


def credential_slots(graph: Any) -> list[CredentialsSlot]:
    """Every credentials field of every node (sub-graphs included)."""
    slots = []
    for g in _graphs(graph):
        for node in g.nodes:
            block = get_block(node.block_id)
            if block is None:
                continue
            props = block.input_schema().get("properties", {})
            for name, schema in props.items():
                if is_credentials_field_name(name):
                    slots.append(_slot(node, block, name, schema, props))
    return slots


def _slot(node: Any, block: Any, name: str, schema: dict[str, Any], props: dict[str, Any]) -> CredentialsSlot:
    providers = [str(p) for p in schema.get("credentials_provider") or []]
    discriminator, value = schema.get("discriminator"), None
    if isinstance(discriminator, str):
        value = node.input_default.get(discriminator, (props.get(discriminator) or {}).get("default"))
        mapped = (schema.get("discriminator_mapping") or {}).get(value) if isinstance(value, str) else None
        if mapped:
            providers = [mapped]
    optional = bool(node.metadata.get("credentials_optional")) or name not in block.required_inputs()
    return CredentialsSlot(node_id=node.id, field_name=name, providers=providers,
                           types=[str(t) for t in schema.get("credentials_types") or []],
                           optional=optional, schema=schema, discriminator_value=value)


def _groups(graph: Any, slots: list[CredentialsSlot] | None = None) -> dict[str, _Group]:
    groups: dict[str, _Group] = {}
    for slot in credential_slots(graph) if slots is None else slots:
        group = groups.setdefault(slot.key, _Group(schema=slot.schema))
        group.slots.append(slot)
        if isinstance(slot.discriminator_value, str):
            group.values.add(slot.discriminator_value)
    return groups


def credentials_input_schema(graph: Any) -> dict[str, Any]:
    """The graph's ``credentials_input_schema``: one property per merged credentials input."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for key, group in _groups(graph).items():
        prop = {k: copy.deepcopy(v) for k, v in group.schema.items() if k not in ("default", "advanced", "secret")}
        first = group.slots[0]
        prop["credentials_provider"] = list(first.providers)
        prop["credentials_types"] = list(first.types)
        if "discriminator" in prop:
            prop["discriminator_values"] = sorted(group.values)
        if len(first.providers) == 1:
            prop.setdefault("properties", {})["provider"] = {"const": first.providers[0], "title": "Provider",
                                                             "type": "string"}
        properties[key] = prop
        if any(not slot.optional for slot in group.slots):
            required.append(key)
    return {"type": "object", "properties": properties, "required": required}


def node_credentials_masks(graph: Any, credentials_inputs: dict[str, Any],
                           slots: list[CredentialsSlot] | None = None) -> dict[str, dict[str, Any]]:
    """``credentials_inputs`` (graph-level input name -> reference) as per-node input masks.
    ``slots``: the graph's ``credential_slots`` when the caller already has them."""
    masks: dict[str, dict[str, Any]] = {}
    if not credentials_inputs:
        return masks
    for key, group in _groups(graph, slots).items():
        meta = credentials_inputs.get(key)
        if meta is None:
            continue
        for slot in group.slots:
            masks.setdefault(slot.node_id, {})[slot.field_name] = meta
    return masks


def credentials_errors(graph: Any, masks: dict[str, dict[str, Any]],
                       lookup: Callable[[str], CredentialsMeta | None],
                       slots: list[CredentialsSlot] | None = None) -> dict[str, dict[str, str]]:
    """AutoGPT's run-time credential checks: ``{node_id: {field: message}}``. ``lookup`` returns
    the reference of a credential the running user may use (their own or a system one), else None."""
    errors: dict[str, dict[str, str]] = {}
    nodes = {node.id: node for g in _graphs(graph) for node in g.nodes}
    for slot in credential_slots(graph) if slots is None else slots:
        node = nodes[slot.node_id]
        raw = (masks.get(slot.node_id) or {}).get(slot.field_name) or node.input_default.get(slot.field_name)
        message = _check(slot, raw, lookup)
        if message:
            errors.setdefault(slot.node_id, {})[slot.field_name] = message
    return errors


def _check(slot: CredentialsSlot, raw: Any, lookup: Callable[[str], CredentialsMeta | None]) -> str | None:
    if not raw:
        return None if slot.optional else REQUIRED
    try:
        meta = CredentialsMeta.model_validate(raw)
    except ValidationError as exc:
        return f"Invalid credentials: {_brief(exc)}"
    stored = lookup(meta.id)
    if stored is None:
        return f"Unknown credentials #{meta.id}"
    if stored.provider != meta.provider or stored.type != meta.type:
        return MISMATCH
    if (slot.providers and stored.provider not in slot.providers) or (slot.types and stored.type not in slot.types):
        return MISMATCH
    return None


def _brief(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ())) or 'value'}: {e.get('msg')}" for e in exc.errors())
