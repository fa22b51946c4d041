"""AutoGPT's executor scenarios (COMPAT §8) run through the real runner and planner, in memory."""

import pytest

from tests.unit.executor_harness import build_graph, nodes_of, run_graph

INPUT = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
OUTPUT = "363ae599-353e-4804-937e-b2ee3cef3da4"
STORE = "1ff065e9-88e8-4358-9d82-8dc91f622ba9"
TEMPLATE = "db7d8f02-2f44-4c55-ab7a-eae0941f0c30"
FIND = "0e50422c-6dee-4145-83d6-3a5a392f65de"
CALC = "b1ab9b19-67a6-406d-abf5-2dba76d00c79"
STEP = "f66a3543-28d3-4ab5-8945-9b336371e2ce"
TIMER = "d67a9c52-5e4e-11e2-bcfd-0800200c9a71"
LIST_ITEM = "262ca24c-1025-43cf-a578-534e23234e97"


def link(src, sink, source_name, sink_name, static=False):
    return {"source_id": src, "sink_id": sink, "source_name": source_name, "sink_name": sink_name,
            "is_static": static}


async def test_agent_execution_sample():
    body, ids = build_graph([
        {"id": "n0", "block_id": INPUT, "input_default": {"name": "input_1"}},
        {"id": "n1", "block_id": INPUT, "input_default": {"name": "input_2", "description": "This is my description"}},
        {"id": "n2", "block_id": TEMPLATE, "input_default": {"format": "{{a}}, {{b}}{{c}}", "values_#_c": "!!!"}},
        {"id": "n3", "block_id": STORE, "input_default": {}},
    ], [link("n0", "n2", "result", "values_#_a"), link("n1", "n2", "result", "values_#_b"),
        link("n2", "n3", "output", "input")])
    result, _ = await run_graph(body, {"input_1": "Hello", "input_2": "World"})
    assert result["status"] == "COMPLETED"
    assert len(result["node_executions"]) == 4
    assert all(ne["status"] == "COMPLETED" for ne in result["node_executions"])
    n0, = nodes_of(result, ids["n0"])
    assert n0["output_data"] == {"result": ["Hello"]}
    assert n0["input_data"] == {"name": "input_1", "value": "Hello"}
    n1, = nodes_of(result, ids["n1"])
    assert n1["input_data"] == {"name": "input_2", "description": "This is my description", "value": "World"}
    n2, = nodes_of(result, ids["n2"])
    assert n2["output_data"] == {"output": ["Hello, World!!!"]}
    assert n2["input_data"] == {"format": "{{a}}, {{b}}{{c}}", "values": {"a": "Hello", "b": "World", "c": "!!!"},
                                "values_#_a": "Hello", "values_#_b": "World", "values_#_c": "!!!"}
    n3, = nodes_of(result, ids["n3"])
    assert n3["input_data"] == {"input": "Hello, World!!!"}
    assert n3["output_data"] == {"output": ["Hello, World!!!"]}


async def test_input_pin_always_waited():
    body, ids = build_graph([
        {"id": "a", "block_id": STORE, "input_default": {"input": {"key1": "value1", "key2": "value2"}}},
        {"id": "b", "block_id": STORE, "input_default": {"input": "key2"}},
        {"id": "f", "block_id": FIND, "input_default": {"key": "", "input": {}}},
    ], [link("a", "f", "output", "input"), link("b", "f", "output", "key")])
    result, _ = await run_graph(body, {})
    assert len(result["node_executions"]) == 3
    f, = nodes_of(result, ids["f"])
    assert f["status"] == "COMPLETED" and f["output_data"] == {"output": ["value2"]}


async def test_static_input_link_on_graph():
    body, ids = build_graph([
        {"id": "s1", "block_id": STORE, "input_default": {"input": 4}},
        {"id": "s2", "block_id": STORE, "input_default": {"input": 4}},
        {"id": "s3", "block_id": STORE, "input_default": {"input": 4}},
        {"id": "s4", "block_id": STORE, "input_default": {"input": 5}},
        {"id": "s5", "block_id": STORE, "input_default": {}},
        {"id": "c", "block_id": CALC, "input_default": {"operation": "Add"}},
    ], [link("s1", "c", "output", "a"), link("s2", "c", "output", "a"), link("s3", "c", "output", "a"),
        link("s4", "s5", "output", "input"), link("s5", "c", "output", "b", static=True)])
    result, _ = await run_graph(body, {})
    assert len(result["node_executions"]) == 8
    calcs = nodes_of(result, ids["c"])
    assert len(calcs) == 3
    assert all(c["output_data"] == {"result": [9]} for c in calcs)


def _preset_graph():
    return build_graph([
        {"id": "d", "block_id": INPUT, "input_default": {"name": "dictionary"}},
        {"id": "sv", "block_id": STORE, "input_default": {"input": {"key1": "Hi", "key2": "Everyone"}}},
        {"id": "sel", "block_id": INPUT, "input_default": {"name": "selected_value"}},
        {"id": "f", "block_id": FIND, "input_default": {"key": "", "input": {}}},
    ], [link("d", "sv", "result", "input"), link("sv", "f", "output", "input"), link("sel", "f", "result", "key")])


@pytest.mark.parametrize("overrides, expected", [({}, "World"), ({"selected_value": "key1"}, "Hello")])
async def test_execute_preset_inputs_and_clash(overrides, expected):
    body, ids = _preset_graph()
    preset_inputs = {"dictionary": {"key1": "Hello", "key2": "World"}, "selected_value": "key2"}
    result, _ = await run_graph(body, {**preset_inputs, **overrides})
    assert len(result["node_executions"]) == 4
    f, = nodes_of(result, ids["f"])
    assert f["status"] == "COMPLETED" and f["output_data"] == {"output": [expected]}


async def test_fifo_of_values_on_one_pin():
    body, ids = build_graph([
        {"id": "s", "block_id": STEP, "input_default": {"items": [10, 20, 30]}},
        {"id": "c", "block_id": CALC, "input_default": {"operation": "Multiply", "b": 2}},
        {"id": "o", "block_id": OUTPUT, "input_default": {"name": "doubled"}},
    ], [link("s", "c", "item", "a"), link("c", "o", "result", "value")])
    result, _ = await run_graph(body)
    calcs = nodes_of(result, ids["c"])
    assert [c["input_data"]["a"] for c in calcs] == [10, 20, 30]
    assert sorted(result["outputs"]["doubled"]) == [20, 40, 60]


async def test_static_link_released_after_waiting_executions_exist():
    # three `a` values wait; the static `b` arrives late (after a timer) and releases all three
    body, ids = build_graph([
        {"id": "s", "block_id": STEP, "input_default": {"items": [1, 2, 3]}},
        {"id": "t", "block_id": TIMER, "input_default": {"input_message": "x", "seconds": 1}},
        {"id": "v", "block_id": STORE, "input_default": {"data": 100}},
        {"id": "c", "block_id": CALC, "input_default": {"operation": "Add"}},
    ], [link("s", "c", "item", "a"), link("t", "v", "output_message", "input"), link("v", "c", "output", "b")])
    result, _ = await run_graph(body)
    calcs = nodes_of(result, ids["c"])
    assert len(calcs) == 3
    assert sorted(r for c in calcs for r in c["output_data"]["result"]) == [101, 102, 103]


async def test_error_pin_routed_and_node_failed_without_failing_graph():
    body, ids = build_graph([
        {"id": "g", "block_id": LIST_ITEM, "input_default": {"list": [1], "index": 5}},
        {"id": "o", "block_id": OUTPUT, "input_default": {"name": "problem"}},
    ], [link("g", "o", "error", "value")])
    result, _ = await run_graph(body)
    assert result["status"] == "COMPLETED"
    g, = nodes_of(result, ids["g"])
    assert g["status"] == "FAILED" and g["output_data"]["error"]
    assert result["outputs"]["problem"] == g["output_data"]["error"]
    assert result["stats"]["node_error_count"] == 1


async def test_per_node_timeout():
    body, ids = build_graph([
        {"id": "t", "block_id": TIMER, "input_default": {"seconds": 5}},
    ], [])
    result, _ = await run_graph(body, node_timeout_s=0.2)
    t, = nodes_of(result, ids["t"])
    assert t["status"] == "FAILED"
    assert t["output_data"] == {"error": ["Node timed out after 0.2s"]}
    assert result["status"] == "COMPLETED"


async def test_runaway_cycle_is_capped():
    # a StoreValue feeding itself through a calculator loops forever without a cap
    body, ids = build_graph([
        {"id": "start", "block_id": STORE, "input_default": {"input": 0}},
        {"id": "inc", "block_id": CALC, "input_default": {"operation": "Add", "b": 1}},
    ], [link("start", "inc", "output", "a"), link("inc", "inc", "result", "a")])
    result, _ = await run_graph(body, max_node_executions=50)
    assert result["status"] == "FAILED"
    assert "limit of 50 node executions" in result["stats"]["error"]
    assert len([ne for ne in result["node_executions"] if ne["queue_time"]]) == 50


async def test_events_fold_back_to_the_same_state():
    from services.domain.executions.state import ExecutionState
    from services.domain.executions.views import execution_with_nodes

    body, _ = _preset_graph()
    result, writer = await run_graph(body, {"dictionary": {"key2": "x"}, "selected_value": "key2"})
    versions = [v for v, _ in writer.events]
    assert versions == list(range(2, len(versions) + 2))  # v1 is ExecutionQueued
    from schemas.events.executions import ExecutionQueued
    from tests.unit.executor_harness import queued_state
    initial = queued_state(body, {"dictionary": {"key2": "x"}, "selected_value": "key2"})
    queued_event = ExecutionQueued(user_id="u", graph_id=body.id, graph_version=1, graph=body,
                                   inputs=initial.inputs)
    refolded = ExecutionState.from_events(result["id"], [(queued_event, None), *[(e, None) for _, e in writer.events]])
    again = execution_with_nodes(refolded)
    strip = lambda r: [{k: v for k, v in ne.items() if not k.endswith("_time")} for ne in r["node_executions"]]  # noqa: E731
    assert strip(again) == strip(result)
    assert again["outputs"] == result["outputs"] and again["status"] == result["status"]
