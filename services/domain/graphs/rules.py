"""Pure rules over a graph: id reassignment and validation (I/O schemas, export stripping and the
sub-graph recursion check have modules of their own beside this one).

Works on ``schemas.graph`` models (``GraphInput``/``BaseGraph`` or a stored ``GraphVersionBody``).
No storage here, so the command side runs these before recording a version and the executor can
re-validate with ``for_run=True``. Behaviour and error texts follow AutoGPT's graph model.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import uuid4

from schemas.graph import GraphInput
from services.domain.blocks.base import Block, BlockType
from services.domain.blocks.registry import all_blocks, get_block
from services.domain.errors import InvalidCommand
from services.domain.graphs.credentials import is_credentials_field_name
from services.domain.graphs.pins import is_tool_pin, sanitize_pin_name

AGENT_EXECUTOR_BLOCK_ID = "e189baac-8c20-45a1-94a7-55177ea42565"
FIELD_REQUIRED = "This field is required"
# Saving a graph only insists on the fields that define its interface; the rest may be wired later.
_CHECKED_WHEN_SAVING = {BlockType.INPUT, BlockType.OUTPUT, BlockType.AGENT}

G = TypeVar("G")


class GraphValidationError(InvalidCommand, ValueError):
    """A graph that cannot be saved or run. ``node_errors`` is ``{node_id: {field: message}}``;
    it is empty for structural problems (bad links, unknown blocks), which stop at the first.
    The client reads both, in AutoGPT's validation error body."""

    def __init__(self, message: str, node_errors: dict[str, dict[str, str]] | None = None) -> None:
        self.node_errors = node_errors or {}
        super().__init__(message, detail={"type": "validation_error", "message": message,
                                          "node_errors": self.node_errors})


def _graphs(graph: Any) -> list[Any]:
    """The graph followed by its sub-graphs (stored versions have none)."""
    return [graph, *(getattr(graph, "sub_graphs", None) or [])]


def reassign_ids(graph: GraphInput, *, user_id: str, new_graph_id: str | None = None,
                 reassign_graph_id: bool = False, id_factory: Callable[[], Any] = uuid4) -> GraphInput:
    """A copy with fresh node and link ids, so client-chosen ids never collide across graphs.

    Graph ids change only on create: pass ``new_graph_id`` (used for the top graph) or
    ``reassign_graph_id=True``; then every sub-graph gets a fresh id too. Updates keep graph ids.
    AgentExecutor nodes are bound to ``user_id``, get ``inputs`` defaulted to ``{}``, and follow
    their sub-graph's new id.
    """
    def fresh() -> str:
        return str(id_factory())

    result = graph.model_copy(deep=True)
    graph_ids: dict[str, str] = {}
    if new_graph_id is not None or reassign_graph_id:
        _check_sub_graph_ids(result)
        graph_ids = {sub.id: fresh() for sub in result.sub_graphs if sub.id}
        top_id = new_graph_id or fresh()
        if graph.id:
            graph_ids[graph.id] = top_id
        result.id = top_id
        for sub in result.sub_graphs:
            # a sub-graph without an id gets one too (no node can name it, but it is still recorded)
            sub.id = graph_ids[sub.id] if sub.id else fresh()
    for g in _graphs(result):
        _reassign_nodes(g, user_id, graph_ids, fresh)
    return result


def _check_sub_graph_ids(graph: GraphInput) -> None:
    """A client's graph ids name the graphs its AgentExecutor nodes point at, so each must be
    unique: two sub-graphs sharing an id, or one reusing the top graph's, cannot say which graph a
    node means (and would both be recorded as one new stream)."""
    seen = {graph.id} if graph.id else set()
    for sub in graph.sub_graphs:
        if not sub.id:
            continue
        if sub.id in seen:
            what = "the graph's own id" if sub.id == graph.id else "the id of another sub-graph"
            raise GraphValidationError(f"Sub-graph id {sub.id[:60]!r} is {what}; graph ids must be unique")
        seen.add(sub.id)


def _reassign_nodes(graph: Any, user_id: str, graph_ids: dict[str, str], fresh: Callable[[], str]) -> None:
    node_ids = {node.id: fresh() for node in graph.nodes}
    for node in graph.nodes:
        node.id = node_ids[node.id]
        node.input_links, node.output_links = [], []  # stale copies; ``graph.links`` is the truth
        if node.block_id == AGENT_EXECUTOR_BLOCK_ID:
            node.input_default["user_id"] = user_id
            node.input_default.setdefault("inputs", {})
            target = node.input_default.get("graph_id")
            if isinstance(target, str) and target in graph_ids:
                node.input_default["graph_id"] = graph_ids[target]
    for link in graph.links:
        link.id = fresh()
        link.source_id = node_ids.get(link.source_id, link.source_id)
        link.sink_id = node_ids.get(link.sink_id, link.sink_id)


def validate_graph(graph: G, *, for_run: bool = False,
                   nodes_input_masks: dict[str, dict[str, Any]] | None = None) -> G:
    """Check a graph (and its sub-graphs); return a copy whose links out of static-output blocks
    are marked static. The argument is not modified.

    Structural problems raise at once; per-node problems are collected and raised together as
    ``GraphValidationError("Graph validation failed: …", node_errors)``. ``for_run`` adds the
    checks that only matter for execution (required inputs of every block, ``depends_on``).
    """
    fixed = graph.model_copy(deep=True)  # type: ignore[attr-defined]
    masks = nodes_input_masks or {}
    node_errors: dict[str, dict[str, str]] = {}
    for g in _graphs(fixed):
        _check_links(g)
        blocks = _node_blocks(g)
        sink_names: dict[str, list[str]] = defaultdict(list)
        for link in g.links:
            sink_names[link.sink_id].append(link.sink_name)
        for node in g.nodes:
            errors = _node_errors(node, blocks[node.id], sink_names[node.id], for_run, masks.get(node.id) or {})
            if errors:
                node_errors.setdefault(node.id, {}).update(errors)
    if node_errors:
        count = sum(len(errors) for errors in node_errors.values())
        raise GraphValidationError(
            f"Graph validation failed: {count} issues on {len(node_errors)} nodes", node_errors)
    return fixed


def _check_links(graph: Any) -> None:
    """Both ends of every link must be a known node, block and pin; forces static links."""
    nodes = {node.id: node for node in graph.nodes}
    for link in graph.links:
        prefix = f"Link {(link.source_id, link.source_name)} <-> {(link.sink_id, link.sink_name)}"
        for is_source, node_id, pin in ((True, link.source_id, link.source_name),
                                        (False, link.sink_id, link.sink_name)):
            node = nodes.get(node_id)
            if node is None:
                raise GraphValidationError(f"{prefix}, {node_id} is invalid node id, available nodes: {sorted(nodes)}")
            block = get_block(node.block_id)
            if block is None:
                names = sorted(b.name() for b in all_blocks().values())
                raise GraphValidationError(f"{prefix}, {node.block_id} is invalid block id, available blocks: {names}")
            allowed = _pin_fields(block, node.input_default, is_source)
            if sanitize_pin_name(pin) not in allowed and not is_tool_pin(pin):
                raise GraphValidationError(f"{prefix}, `{pin}` invalid, Allowed fields: {sorted(allowed)}")
        source_block = get_block(nodes[link.source_id].block_id)
        if source_block is not None and source_block.static_output:
            link.is_static = True  # a constant's value is reusable by every later run of the sink


def _pin_fields(block: type[Block], input_default: dict[str, Any], is_source: bool) -> set[str]:
    """Pin names a node offers; AgentExecutor nodes take theirs from the sub-graph's schemas."""
    if block.block_type == BlockType.AGENT:
        schema = input_default.get("output_schema" if is_source else "input_schema")
        props = schema.get("properties") if isinstance(schema, dict) else None
        return set(props) if isinstance(props, dict) else set()
    return block.output_fields() if is_source else block.input_fields()


def _node_blocks(graph: Any) -> dict[str, type[Block]]:
    blocks: dict[str, type[Block]] = {}
    for node in graph.nodes:
        block = get_block(node.block_id)
        if node.id in blocks:  # ids key links and errors; two nodes must never share one
            raise GraphValidationError(f"Duplicate node id {node.id}")
        if block is None:
            raise GraphValidationError(f"Invalid block {node.block_id} for node #{node.id}")
        if block.disabled:
            raise GraphValidationError(f"Block {node.block_id} is disabled and cannot be used in graphs")
        blocks[node.id] = block
    return blocks


def _node_errors(node: Any, block: type[Block], sink_names: list[str], for_run: bool,
                 mask: dict[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    props = block.input_schema().get("properties", {})
    required = block.required_inputs()
    if for_run or block.block_type in _CHECKED_WHEN_SAVING:
        # A None default counts as absent: the block would be built without it.
        provided = {sanitize_pin_name(k) for k, v in node.input_default.items() if v is not None}
        provided |= {sanitize_pin_name(name) for name in sink_names} | set(mask)
        for name in [*props, *sorted(required - set(props))]:
            if name in required and name not in provided and not is_credentials_field_name(name):
                errors[name] = FIELD_REQUIRED
    input_name = node.input_default.get("name")
    if block.block_type == BlockType.INPUT and isinstance(input_name, str) and is_credentials_field_name(input_name):
        errors["name"] = f"'{input_name}' is a reserved input name: 'credentials' and `*_credentials` are reserved"
    errors.update(_dependency_errors(node.input_default, mask, props, required, for_run))
    return errors


def _dependency_errors(input_default: dict[str, Any], mask: dict[str, Any], props: dict[str, Any],
                       required: set[str], for_run: bool) -> dict[str, str]:
    """Fields that only make sense with another field set (``depends_on``, credential discriminators)."""
    def filled(source: dict[str, Any], name: str) -> bool:
        return source.get(name) is not None and str(source[name]).strip() != ""

    def has_value(name: str) -> bool:
        default = (props.get(name) or {}).get("default")
        return filled(input_default, name) or filled(mask, name) or default is not None

    errors: dict[str, str] = {}
    for name, schema in props.items():
        deps = list(schema.get("depends_on", [])) if for_run else []
        if isinstance(schema.get("discriminator"), str):
            deps.append(schema["discriminator"])
        missing = [dep for dep in deps if not has_value(dep)]
        if missing and (name in required or has_value(name)):
            errors[name] = f"Requires {', '.join(missing)} to be set"
    return errors
