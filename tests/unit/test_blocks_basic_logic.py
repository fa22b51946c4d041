"""Focused tests for the tricky corners of the basic, branching, iteration and maths blocks."""

from __future__ import annotations

import math

import pytest

from services.blocks import iteration
from services.blocks.basic import (
    StoreValueBlock,
    UniversalTypeConverterBlock,
    convert_value,
)
from services.blocks.branching import ConditionBlock, IfInputMatchesBlock
from services.blocks.iteration import StepThroughItemsBlock
from services.blocks.maths import CalculatorBlock, CountItemsBlock
from services.domain.blocks.base import BlockInputError
from tests.unit.block_runner import run

# -- basic ---------------------------------------------------------------------------------------

def test_store_value_none_data_is_dropped_and_input_forwarded():
    assert run(StoreValueBlock, {"input": 5, "data": None}) == [("output", 5)]
    assert run(StoreValueBlock, {"input": 5, "data": 0}) == [("output", 5)]  # `data or input`
    assert run(StoreValueBlock, {"input": 5, "data": [1]}) == [("output", [1])]


@pytest.mark.parametrize("value,target,expected", [
    ("3.5", float, 3.5), ("abc", float, 0.0), ([1, 2, 3], float, 3.0), ("7", int, 7),
    ("TRUE", bool, True), ("no", bool, False), (0, bool, False),
    ({"a": 1}, str, '{"a": 1}'), ("x", str, "x"),
    (' [1, "a"] ', list, [1, "a"]), ("[oops", list, ["[oops"]), ({"k": 1}, list, [["k", 1]]),
    ("[1]", dict, {"value": [1]}), ("plain", dict, {"value": "plain"}), (["a", "b"], dict, {"0": "a", "1": "b"}),
])
def test_convert_value(value, target, expected):
    assert convert_value(value, target) == expected


def test_type_converter_rejects_unknown_type():
    with pytest.raises(BlockInputError):
        run(UniversalTypeConverterBlock, {"value": 1, "type": "tuple"})


# -- branching -----------------------------------------------------------------------------------

@pytest.mark.parametrize("v1,op,v2,expected", [
    ("10", ">", "9", True),  # numeric, not lexicographic ("10" < "9" as text)
    (" 5 ", "==", 5, True),
    ("5.0", "==", "5", True),
    ("abc", "<", "abd", True),
    (" hi ", "==", "hi", True),
    (3, "!=", 3, False),
    (2, "<=", "2", True),
])
def test_condition_parses_strings(v1, op, v2, expected):
    out = run(ConditionBlock, {"value1": v1, "operator": op, "value2": v2})
    assert out[0] == ("result", expected)
    assert out[1][0] == ("yes_output" if expected else "no_output")


def test_condition_defaults_to_parsed_values_and_uses_value2_for_no():
    assert run(ConditionBlock, {"value1": "1", "operator": ">", "value2": " 2"}) == [
        ("result", False), ("no_output", 2.0)]
    assert run(ConditionBlock, {"value1": "x", "operator": "==", "value2": "x", "no_value": "n"}) == [
        ("result", True), ("yes_output", "x")]


def test_condition_incomparable_values_raise_value_error():
    with pytest.raises(ValueError, match="cannot compare"):
        run(ConditionBlock, {"value1": 10, "operator": ">", "value2": "abc"})


def test_if_input_matches_converts_value_to_input_type():
    assert run(IfInputMatchesBlock, {"input": 3.0, "value": "3"}) == [("result", True), ("yes_output", 3.0)]
    assert run(IfInputMatchesBlock, {"input": "5", "value": 5}) == [("result", True), ("yes_output", "5")]
    assert run(IfInputMatchesBlock, {"input": 5, "value": "five"}) == [("result", False), ("no_output", 5)]
    assert run(IfInputMatchesBlock, {"input": [1, 2], "value": "[1, 2]", "yes_value": "y"}) == [
        ("result", True), ("yes_output", "y")]


# -- iteration -----------------------------------------------------------------------------------

def test_step_through_items_iterates_every_non_empty_source_in_order():
    out = run(StepThroughItemsBlock, {"items": ["a"], "items_object": {"k": "v"}, "items_str": '{"j": 1}'})
    assert out == [("item", "a"), ("key", 0), ("item", "v"), ("key", "k"), ("item", 1), ("key", "j")]


def test_step_through_items_caps_item_count():
    assert len(run(StepThroughItemsBlock, {"items": list(range(iteration.MAX_ITEMS))})) == 2 * iteration.MAX_ITEMS
    out = run(StepThroughItemsBlock, {"items": list(range(iteration.MAX_ITEMS + 1))})
    assert out == [("error", f"too many items: {iteration.MAX_ITEMS + 1} > {iteration.MAX_ITEMS}")]
    out = run(StepThroughItemsBlock, {"items_object": {str(i): i for i in range(iteration.MAX_ITEMS + 1)}})
    assert out[0][0] == "error" and len(out) == 1


def test_step_through_items_caps_json_string_size():
    big = "[" + ",".join(["1"] * (iteration.MAX_ITEMS_STR_CHARS // 2 + 1)) + "]"
    out = run(StepThroughItemsBlock, {"items_str": big})
    assert len(out) == 1 and out[0][0] == "error" and "too large" in out[0][1]


def test_step_through_items_rejects_scalar_json():
    assert run(StepThroughItemsBlock, {"items_str": "42"})[0][0] == "error"
    assert run(StepThroughItemsBlock, {}) == []


# -- maths ---------------------------------------------------------------------------------------

def test_calculator_divide_by_zero_is_inf_even_when_rounding():
    assert run(CalculatorBlock, {"operation": "Divide", "a": -3, "b": 0}) == [("result", math.inf)]
    assert run(CalculatorBlock, {"operation": "Divide", "a": 0, "b": 0, "round_result": True}) == [("result", math.inf)]


def test_calculator_other_errors_are_nan():
    (pin, value), = run(CalculatorBlock, {"operation": "Power", "a": -8, "b": 0.5})
    assert pin == "result" and math.isnan(value)
    (pin, value), = run(CalculatorBlock, {"operation": "Power", "a": 0, "b": -1})
    assert value == math.inf


def test_calculator_rejects_unknown_operation():
    with pytest.raises(BlockInputError):
        run(CalculatorBlock, {"operation": "add", "a": 1, "b": 2})


def test_count_items():
    assert run(CountItemsBlock, {"collection": ""}) == [("count", 0)]
    assert run(CountItemsBlock, {"collection": 3.5}) == [("count", -1)]
    assert run(CountItemsBlock, {"collection": True}) == [("count", -1)]
