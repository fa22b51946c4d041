"""Graph rules: id reassignment, validation, I/O schemas, starting nodes, export (COMPAT §1.2-§1.7, §8.8)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from pydantic import BaseModel

from schemas.graph import GraphInput
from services.blocks.basic import NoteBlock, PrintToConsoleBlock, StoreValueBlock
from services.blocks.io import AgentInputBlock, AgentNumberInputBlock, AgentOutputBlock
from services.domain.blocks.base import Block, BlockSchemaInput, BlockSchemaOutput, BlockType, SchemaField
from services.domain.graphs import credentials as graph_credentials
from services.domain.graphs import rules
from services.domain.graphs.credentials import credentials_input_schema
from services.domain.graphs.export import strip_for_export
from services.domain.graphs.io_schema import input_schema, output_schema, starting_nodes
from services.domain.graphs.rules import (
    AGENT_EXECUTOR_BLOCK_ID,
    GraphValidationError,
    reassign_ids,
    validate_graph,
)

INPUT = AgentInputBlock.id
OUTPUT = AgentOutputBlock.id
STORE = StoreValueBlock.id
TEMPLATE_ID = "5f0b6a4e-0000-4000-8000-000000000001"
DEPENDENT_ID = "5f0b6a4e-0000-4000-8000-000000000002"
CREDS_ID = "5f0b6a4e-0000-4000-8000-000000000003"


# -- test-only blocks ---------------------------------------------------------------------------
# Duck-typed stand-ins (not Block subclasses, so the global registry never sees them).


def fake_block(name: str, block_id: str, inputs: type[BaseModel], outputs: type[BaseModel],
               block_type: BlockType = BlockType.STANDARD) -> type:
    helpers = ("input_schema", "output_schema", "input_fields", "output_fields", "required_inputs", "name")
    return type(name, (), {
        **{h: Block.__dict__[h] for h in helpers},
        "id": block_id, "Input": inputs, "Output": outputs, "block_type": block_type,
        "static_output": False, "disabled": False,
    })


class _TemplateIn(BlockSchemaInput):
    format: str = SchemaField(description="template")
    values: dict[str, Any] = SchemaField(default_factory=dict, description="values")


class _TemplateOut(BlockSchemaOutput):
    output: str = SchemaField(description="rendered")


class _AgentIn(BlockSchemaInput):
    user_id: str = SchemaField(description="owner")
    graph_id: str = SchemaField(description="sub-graph")
    graph_version: int = SchemaField(description="version")
    inputs: dict[str, Any] = SchemaField(default_factory=dict)
    input_schema: dict[str, Any] = SchemaField(description="inputs schema")
    output_schema: dict[str, Any] = SchemaField(description="outputs schema")


class _DependentIn(BlockSchemaInput):
    mode: str | None = SchemaField(default=None, description="mode")
    detail: str | None = SchemaField(default=None, description="needs mode", depends_on=["mode"])


class _CredsIn(BlockSchemaInput):
    credentials: dict[str, Any] = SchemaField(
        description="key", json_schema_extra={"credentials_provider": ["openai"], "credentials_types": ["api_key"]})
    prompt: str = SchemaField(default="", description="prompt")


@pytest.fixture(autouse=True)
def fake_blocks(monkeypatch):
    extra = {
        TEMPLATE_ID: fake_block("FakeTemplateBlock", TEMPLATE_ID, _TemplateIn, _TemplateOut),
        AGENT_EXECUTOR_BLOCK_ID: fake_block("FakeAgentExecutorBlock", AGENT_EXECUTOR_BLOCK_ID, _AgentIn,
                                            BlockSchemaOutput, BlockType.AGENT),
        DEPENDENT_ID: fake_block("FakeDependentBlock", DEPENDENT_ID, _DependentIn, _TemplateOut),
        CREDS_ID: fake_block("FakeCredsBlock", CREDS_ID, _CredsIn, _TemplateOut),
    }
    real = rules.get_block
    monkeypatch.setattr(rules, "get_block", lambda block_id: extra.get(block_id) or real(block_id))
    monkeypatch.setattr(graph_credentials, "get_block", lambda block_id: extra.get(block_id) or real(block_id))


# -- helpers ------------------------------------------------------------------------------------


def node(node_id: str, block_id: str, **input_default: Any) -> dict[str, Any]:
    return {"id": node_id, "block_id": block_id, "input_default": input_default}


def link(source: str, source_name: str, sink: str, sink_name: str, **extra: Any) -> dict[str, Any]:
    return {"source_id": source, "source_name": source_name, "sink_id": sink, "sink_name": sink_name, **extra}


def graph(nodes: list, links: list | None = None, **extra: Any) -> GraphInput:
    return GraphInput.model_validate({"id": "g1", "name": "t", "nodes": nodes, "links": links or [], **extra})


def simple_graph() -> GraphInput:
    return graph(
        [node("in", INPUT, name="text"), node("store", STORE), node("out", OUTPUT, name="result")],
        [link("in", "result", "store", "input"), link("store", "output", "out", "value")],
    )


def validation_error(g, **kwargs) -> GraphValidationError:
    with pytest.raises(GraphValidationError) as info:
        validate_graph(g, **kwargs)
    return info.value


# -- reassign_ids -------------------------------------------------------------------------------


def counter_ids():
    counter = itertools.count(1)
    return lambda: f"id-{next(counter)}"


def graph_with_subgraph() -> GraphInput:
    sub = {"id": "sub1", "name": "sub", "nodes": [node("s-in", INPUT, name="x")], "links": []}
    agent = node("agent", AGENT_EXECUTOR_BLOCK_ID, graph_id="sub1", graph_version=1,
                 input_schema={"properties": {"x": {}}}, output_schema={"properties": {"y": {}}})
    return graph([node("in", INPUT, name="x"), agent], [link("in", "result", "agent", "x", id="L1")],
                 sub_graphs=[sub])


def test_reassign_ids_on_create_renews_everything():
    original = graph_with_subgraph()
    result = reassign_ids(original, user_id="u1", reassign_graph_id=True, id_factory=counter_ids())
    ids = [result.id, result.sub_graphs[0].id, *(n.id for n in result.nodes), result.sub_graphs[0].nodes[0].id]
    assert all(i.startswith("id-") for i in ids) and len(set(ids)) == len(ids)
    in_node, agent = result.nodes
    (new_link,) = result.links
    assert (new_link.source_id, new_link.sink_id) == (in_node.id, agent.id)
    assert new_link.id.startswith("id-") and new_link.id != "L1"
    assert agent.input_default["user_id"] == "u1"
    assert agent.input_default["inputs"] == {}
    assert agent.input_default["graph_id"] == result.sub_graphs[0].id
    assert original.id == "g1" and original.nodes[0].id == "in"  # input untouched


def test_reassign_ids_with_given_graph_id():
    result = reassign_ids(graph_with_subgraph(), user_id="u1", new_graph_id="chosen", id_factory=counter_ids())
    assert result.id == "chosen"
    assert result.sub_graphs[0].id not in ("sub1", "chosen")
    assert result.nodes[1].input_default["graph_id"] == result.sub_graphs[0].id


def test_reassign_ids_on_update_keeps_graph_ids():
    result = reassign_ids(graph_with_subgraph(), user_id="u2")
    assert (result.id, result.sub_graphs[0].id) == ("g1", "sub1")
    assert result.nodes[1].input_default["graph_id"] == "sub1"
    assert result.nodes[1].input_default["user_id"] == "u2"
    assert {n.id for n in result.nodes}.isdisjoint({"in", "agent"})


# -- structural validation ----------------------------------------------------------------------


def test_valid_graph_passes_and_forces_static_links():
    original = simple_graph()
    fixed = validate_graph(original)
    assert [lk.is_static for lk in fixed.links] == [True, True]  # AgentInput and StoreValue are static
    assert [lk.is_static for lk in original.links] == [False, False]


def test_links_from_non_static_blocks_stay_dynamic():
    g = graph([node("t", TEMPLATE_ID, format="x"), node("out", OUTPUT, name="o")],
              [link("t", "output", "out", "value")])
    assert validate_graph(g).links[0].is_static is False


def test_unknown_node_in_link():
    err = validation_error(graph([node("in", INPUT, name="a")], [link("in", "result", "ghost", "value")]))
    assert "ghost is invalid node id" in err.message
    assert err.node_errors == {}


def test_unknown_block():
    bad = "00000000-0000-4000-8000-00000000dead"
    err = validation_error(graph([node("x", bad)]))
    assert err.message == f"Invalid block {bad} for node #x"
    err = validation_error(graph([node("x", bad), node("out", OUTPUT, name="o")], [link("x", "a", "out", "value")]))
    assert f"{bad} is invalid block id" in err.message


def test_disabled_block():
    err = validation_error(graph([node("p", PrintToConsoleBlock.id, text="hi")]))
    assert err.message == f"Block {PrintToConsoleBlock.id} is disabled and cannot be used in graphs"


def test_bad_pin_name():
    err = validation_error(graph([node("in", INPUT, name="a"), node("out", OUTPUT, name="o")],
                                 [link("in", "result", "out", "nope")]))
    assert "`nope` invalid, Allowed fields:" in err.message
    assert "'value'" in err.message


def test_dynamic_pins_are_checked_by_base_name():
    g = graph(
        [node("in", INPUT, name="a"), node("t", TEMPLATE_ID, format="{{x}}"), node("out", OUTPUT, name="o")],
        [link("in", "result", "t", "values_#_anything"), link("in", "result", "out", "value_#_x")],
    )
    assert [lk.sink_name for lk in validate_graph(g).links] == ["values_#_anything", "value_#_x"]  # kept as sent
    unknown_base = graph([node("in", INPUT, name="a"), node("t", TEMPLATE_ID, format="{{x}}")],
                         [link("in", "result", "t", "vals_#_anything")])
    assert "`vals_#_anything` invalid" in validation_error(unknown_base).message


def test_agent_node_pins_come_from_its_schemas():
    g = graph_with_subgraph()
    validate_graph(reassign_ids(g, user_id="u"))
    bad = graph_with_subgraph()
    bad.links[0].sink_name = "z"
    assert "`z` invalid" in validation_error(reassign_ids(bad, user_id="u")).message


def test_tool_pins_are_accepted():
    g = graph([node("t", TEMPLATE_ID, format="x"), node("s", STORE)], [link("t", "tools_^_s_~_input", "s", "input")])
    assert validate_graph(g).links[0].source_name == "tools_^_s_~_input"
    not_a_tool = graph([node("t", TEMPLATE_ID, format="x"), node("s", STORE)],
                       [link("t", "toolz_^_s_~_input", "s", "input")])
    assert "`toolz_^_s_~_input` invalid" in validation_error(not_a_tool).message


# -- per-node validation ------------------------------------------------------------------------


def test_input_node_without_name():
    err = validation_error(graph([node("in", INPUT, value="v")]))
    assert err.node_errors == {"in": {"name": "This field is required"}}
    assert err.message == "Graph validation failed: 1 issues on 1 nodes"


def test_errors_are_aggregated_across_nodes_and_sub_graphs():
    sub = {"id": "s", "nodes": [node("s-out", OUTPUT)], "links": []}
    err = validation_error(graph([node("in", INPUT), node("out", OUTPUT)], sub_graphs=[sub]))
    assert set(err.node_errors) == {"in", "out", "s-out"}
    assert err.message == "Graph validation failed: 3 issues on 3 nodes"


@pytest.mark.parametrize("reserved", ["credentials", "openai_credentials"])
def test_reserved_input_names(reserved):
    err = validation_error(graph([node("in", INPUT, name=reserved)]))
    assert err.node_errors == {"in": {"name": (
        f"'{reserved}' is a reserved input name: 'credentials' and `*_credentials` are reserved")}}


def test_standard_block_required_fields_only_checked_for_run():
    g = graph([node("store", STORE)])
    validate_graph(g)
    err = validation_error(g, for_run=True)
    assert err.node_errors == {"store": {"input": "This field is required"}}
    validate_graph(g, for_run=True, nodes_input_masks={"store": {"input": 1}})
    validate_graph(graph([node("store", STORE, input=3)]), for_run=True)
    linked = graph([node("in", INPUT, name="a"), node("store", STORE)], [link("in", "result", "store", "input")])
    validate_graph(linked, for_run=True)


def test_credentials_fields_are_not_required_here():
    assert "credentials" in rules.get_block(CREDS_ID).required_inputs()  # required by the block, yet exempt
    assert validate_graph(graph([node("c", CREDS_ID)]), for_run=True).nodes[0].input_default == {}
    err = validation_error(graph([node("c", CREDS_ID), node("store", STORE)]), for_run=True)
    assert err.node_errors == {"store": {"input": "This field is required"}}  # only non-credentials fields


def test_depends_on_checked_for_run():
    g = graph([node("d", DEPENDENT_ID, detail="x")])
    validate_graph(g)
    assert validation_error(g, for_run=True).node_errors == {"d": {"detail": "Requires mode to be set"}}
    validate_graph(graph([node("d", DEPENDENT_ID, detail="x", mode="m")]), for_run=True)


# -- schemas ------------------------------------------------------------------------------------


def test_input_schema():
    g = graph([
        node("a", INPUT, name="in_key_a", title="Key A", value="A", advanced=True),
        node("b", INPUT, name="in_key_b", advanced=True, description="B input"),
        node("c", INPUT, name="choice", value="x", placeholder_values=["x", "y"]),
        node("n", AgentNumberInputBlock.id, name="count"),
        node("o", OUTPUT, name="out_key"),
    ])
    schema = input_schema(g)
    assert schema["type"] == "object"
    props = schema["properties"]
    assert props["in_key_a"] == {"secret": False, "advanced": True, "title": "Key A", "default": "A"}
    assert props["in_key_b"] == {"secret": False, "advanced": False, "title": "in_key_b", "description": "B input"}
    assert props["choice"]["enum"] == ["x", "y"]
    assert props["count"]["anyOf"] == [{"type": "integer"}, {"type": "null"}]
    assert schema["required"] == ["in_key_b", "count"]


def test_output_schema_every_output_required():
    g = graph([node("in", INPUT, name="x"), node("o1", OUTPUT, name="out_key", description="This is an output key"),
               node("o2", OUTPUT, name="other", secret=True)])
    assert output_schema(g) == {
        "type": "object",
        "properties": {
            "out_key": {"secret": False, "advanced": False, "title": "out_key", "description": "This is an output key"},
            "other": {"secret": True, "advanced": False, "title": "other"},
        },
        "required": ["out_key", "other"],
    }


def test_credentials_input_schema():
    assert credentials_input_schema(simple_graph()) == {"type": "object", "properties": {}, "required": []}
    schema = credentials_input_schema(graph([node("c1", CREDS_ID), node("c2", CREDS_ID)]))
    assert list(schema["properties"]) == ["openai_api_key_credentials"]
    assert schema["required"] == ["openai_api_key_credentials"]


# -- starting nodes -----------------------------------------------------------------------------


def test_starting_nodes():
    g = graph(
        [node("in", INPUT, name="a"), node("free", STORE, input=1), node("fed", STORE),
         node("note", NoteBlock.id, text="hello"), node("in2", INPUT, name="b")],
        [link("in", "result", "fed", "input"), link("fed", "output", "in2", "value")],
    )
    assert [n.id for n in starting_nodes(g)] == ["in", "free", "in2"]


# -- export -------------------------------------------------------------------------------------


def test_strip_for_export():
    exported = {
        "id": "g1",
        "nodes": [
            {"id": "s", "block_id": STORE, "webhook_id": "wh", "input_default": {
                "input": "keep", "api_key": "k", "password": "p", "access_token": "t",
                "credentials": {"id": "c"}, "openai_credentials": {"id": "c"},
                "nested": {"secret_value": "s", "fine": 1}, "use_token": True}},
            {"id": "i", "block_id": INPUT, "webhook_id": None,
             "input_default": {"name": "pw", "value": "hunter2", "secret": True}},
            {"id": "i2", "block_id": INPUT, "input_default": {"name": "plain", "value": "shown"}},
        ],
        "sub_graphs": [{"id": "sub", "nodes": [{"id": "x", "block_id": STORE, "input_default": {"token": "t"}}]}],
    }
    stripped = strip_for_export(exported)
    store, secret_input, plain_input = stripped["nodes"]
    assert store["input_default"] == {"input": "keep", "nested": {"fine": 1}, "use_token": True}
    assert store["webhook_id"] is None
    assert secret_input["input_default"] == {"name": "pw", "secret": True}
    assert plain_input["input_default"] == {"name": "plain", "value": "shown"}
    assert stripped["sub_graphs"][0]["nodes"][0]["input_default"] == {}
    assert exported["nodes"][0]["input_default"]["api_key"] == "k"  # the argument is not modified
