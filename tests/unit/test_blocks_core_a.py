"""Focused tests for the tricky corners of the basic, branching, iteration, maths, text and time blocks."""

import asyncio
import math
import time

import pytest

from services.blocks import iteration, text, time_blocks
from services.domain.blocks.base import BlockInputError, RunContext
from services.blocks.basic import (
    StoreValueBlock,
    UniversalTypeConverterBlock,
    convert_value,
)
from services.blocks.branching import ConditionBlock, IfInputMatchesBlock
from services.blocks.iteration import StepThroughItemsBlock
from services.blocks.maths import CalculatorBlock, CountItemsBlock
from services.blocks.text import (
    CombineTextsBlock,
    ExtractTextInformationBlock,
    FillTextTemplateBlock,
    MatchTextPatternBlock,
    TextSplitBlock,
)
from services.blocks.time_blocks import (
    CountdownTimerBlock,
    GetCurrentDateAndTimeBlock,
    GetCurrentTimeBlock,
)

CATASTROPHIC = r"(a+)+$"
EVIL_TEXT = "a" * 5000 + "!"


def run(block_cls, data, ctx=None):
    async def collect():
        return [pair async for pair in block_cls().execute(data, ctx or RunContext())]
    return asyncio.run(collect())


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


# -- text ----------------------------------------------------------------------------------------

def test_extract_text_catastrophic_pattern_is_bounded(monkeypatch):
    monkeypatch.setattr(text, "REGEX_TIMEOUT_SECONDS", 0.5)
    started = time.monotonic()
    out = run(ExtractTextInformationBlock, {"text": EVIL_TEXT, "pattern": CATASTROPHIC, "find_all": True})
    elapsed = time.monotonic() - started
    assert out == [("error", "pattern timed out after 0.5 seconds")]
    assert elapsed < 2.0


def test_match_text_catastrophic_pattern_is_bounded(monkeypatch):
    monkeypatch.setattr(text, "REGEX_TIMEOUT_SECONDS", 0.5)
    started = time.monotonic()
    out = run(MatchTextPatternBlock, {"text": EVIL_TEXT, "match": CATASTROPHIC, "data": "d"})
    assert out[0][0] == "error" and time.monotonic() - started < 2.0


def test_regex_timeout_bounded_without_regex_package(monkeypatch):
    """Stdlib fallback: the match runs in a child process that is killed at the limit."""
    monkeypatch.setattr(text, "_regex", None)
    assert asyncio.run(text.scan_pattern(r"l+", "hello world", first_only=False)) == ["ll", "l"]
    started = time.monotonic()
    with pytest.raises(text.RegexTimeout):
        asyncio.run(text.scan_pattern(CATASTROPHIC, "a" * 60 + "!", timeout=0.5))
    assert time.monotonic() - started < 5.0
    with pytest.raises(ValueError, match="invalid pattern"):
        asyncio.run(text.scan_pattern("(", "x"))


def test_extract_text_invalid_pattern_and_json_text():
    out = run(ExtractTextInformationBlock, {"text": "abc", "pattern": "(unclosed"})
    assert len(out) == 1 and out[0][0] == "error"
    out = run(ExtractTextInformationBlock, {"text": {"id": 42}, "pattern": r'"id": (\d+)', "group": 1})
    assert out == [("positive", "42"), ("matched_results", ["42"]), ("matched_count", 1)]
    # no match: negative carries the original (non-string) value
    assert run(ExtractTextInformationBlock, {"text": [1], "pattern": "z"})[0] == ("negative", [1])


def test_extract_text_dot_all_and_optional_group():
    out = run(ExtractTextInformationBlock, {"text": "a\nb", "pattern": "a.b", "dot_all": False})
    assert out[0] == ("negative", "a\nb")
    out = run(ExtractTextInformationBlock, {"text": "ab", "pattern": "a(x)?b", "group": 1})
    assert out == [("positive", None), ("matched_results", [None]), ("matched_count", 1)]


def test_text_split_empty_text_and_delimiter():
    assert run(TextSplitBlock, {"text": "", "delimiter": ","}) == [("texts", [])]
    assert run(TextSplitBlock, {"text": "a,,b", "delimiter": ","}) == [("texts", ["a", "", "b"])]
    assert run(TextSplitBlock, {"text": "ab", "delimiter": ""})[0][0] == "error"


def test_fill_text_template_sandbox_and_syntax_errors():
    out = run(FillTextTemplateBlock, {"values": {}, "format": "{{ ''.__class__.__mro__ }}"})
    assert out[0][0] == "error" or out == [("output", "")]
    out = run(FillTextTemplateBlock, {"values": {}, "format": "{% for %}"})
    assert out[0][0] == "error"
    assert run(FillTextTemplateBlock, {"values": {"n": 3}, "format": "{{ n * 2 }}"}) == [("output", "6")]


def test_combine_texts_requires_list():
    assert run(CombineTextsBlock, {"input": [], "delimiter": "-"}) == [("output", "")]


# -- time ----------------------------------------------------------------------------------------

def test_use_user_timezone_from_context():
    ctx = RunContext(extra={"user_timezone": "Asia/Kathmandu"})
    fmt = {"discriminator": "iso8601", "timezone": "UTC", "use_user_timezone": True}
    (pin, value), = run(GetCurrentTimeBlock, {"trigger": "x", "format_type": fmt}, ctx)
    assert value.endswith("+05:45")
    fmt["use_user_timezone"] = False
    (pin, value), = run(GetCurrentDateAndTimeBlock, {"trigger": "x", "format_type": fmt}, ctx)
    assert value.endswith("+00:00") and "." not in value


def test_invalid_timezone_is_rejected():
    with pytest.raises(BlockInputError):
        run(GetCurrentTimeBlock, {"trigger": "x", "format_type": {"discriminator": "iso8601", "timezone": "Mars/Base"}})


def test_countdown_sleeps_total_duration_once_per_repeat(monkeypatch):
    slept = []

    async def fake_sleep(seconds):
        slept.append(seconds)

    monkeypatch.setattr(time_blocks.asyncio, "sleep", fake_sleep)
    out = run(CountdownTimerBlock, {"seconds": "5", "minutes": 1, "hours": "1", "days": 1, "repeat": 3})
    assert out == [("output_message", "timer finished")] * 3
    assert slept == [5 + 60 + 3600 + 86400] * 3
