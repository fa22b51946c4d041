"""Dynamic pin names: output selection, input assembly and tool-pin routing (COMPAT §2.6, §8.7)."""

import pytest

from services.domain.graphs.pins import (
    PinObject,
    merge_execution_input,
    parse_execution_output,
    sanitize_pin_name,
)


class _Obj:
    def __init__(self, **attrs):
        self.__dict__.update(attrs)


# -- sanitize_pin_name ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pin", "base"),
    [
        ("values", "values"),
        ("values_#_name", "values"),
        ("items_$_0", "items"),
        ("obj_@_attr", "obj"),
        ("deep_#_key_$_0_@_data", "deep"),
        ("tools_^_node1_~_query", "tools"),
        ("tools", "tools"),
        ("my_field", "my_field"),
    ],
)
def test_sanitize_pin_name(pin, base):
    assert sanitize_pin_name(pin) == base


# -- parse_execution_output -----------------------------------------------------------------------

NESTED = [_Obj(attr1=[1, 2], attr2={"key": "value"}), {"key": [1, 2]}]


@pytest.mark.parametrize(
    ("value", "selector", "expected"),
    [
        ("value", "result", "value"),
        ([10, 20, 30], "result_$_1", 20),
        ({"key1": "value1", "key2": "value2"}, "result_#_key1", "value1"),
        (_Obj(attr1="value1"), "result_@_attr1", "value1"),
        ([[1, 2], [3, 4]], "result_$_0_$_1", 2),
        ([[1, 2], [3, 4]], "result_$_1_$_0", 3),
        ([{"key1": "value1"}, {"key2": "value2"}], "result_$_0_#_key1", "value1"),
        ([{"key1": "value1"}, {"key2": "value2"}], "result_$_1_#_key2", "value2"),
        ({"key1": [1, 2], "key2": [3, 4]}, "result_#_key1_$_1", 2),
        ({"key1": [1, 2], "key2": [3, 4]}, "result_#_key2_$_0", 3),
        (NESTED, "result_$_0_@_attr1_$_1", 2),
        (NESTED, "result_$_0_@_attr2_#_key", "value"),
        (NESTED, "result_$_1_#_key_$_0", 1),
        ([[{"key": [1, 2]}], [3, 4]], "result_$_0_$_0_#_key_$_1", 2),
        ({"key": [_Obj(value="nested"), 2]}, "result_#_key_$_0_@_value", "nested"),
        (_Obj(items=[{"nested": "value"}]), "result_@_items_$_0_#_nested", "value"),
        (
            {"key": [_Obj(data=[{"items": [{"value": "deep"}]}])]},
            "result_#_key_$_0_@_data_$_0_#_items_$_0_#_value",
            "deep",
        ),
    ],
)
def test_parse_execution_output_selects(value, selector, expected):
    assert parse_execution_output("result", value, selector) == expected


@pytest.mark.parametrize(
    ("value", "selector"),
    [
        ([10, 20, 30], "result_$_3"),
        ({"key1": "value1"}, "result_#_key3"),
        (_Obj(attr1="value1"), "result_@_attr3"),
        ([1, 2, 3], "result_$_5"),
        ([1, 2, 3], "result_#_key"),
        ([1, 2, 3], "result_@_attr"),
        ([1, 2, 3], "wrong_name"),
        ([{"key": [1, 2]}], "result_$_0_#_wrong_key"),
        ([{"key": [1, 2]}], "result_$_0_#_key_$_5"),
        ([{"key": [1, 2]}], "result_$_0_@_attr"),
        ({"key": [1, 2]}, "result_#_key_$_1_@_attr"),
        ({"key": [1, 2]}, "result_@_attr_$_0_#_key"),
        ([1, 2], "result_$_x"),
        ([1, 2], "result_$_-1"),
        ([1, 2], "result_$_"),
        ([1, 2], "results_$_0"),  # a longer name is not a path
        ({"a": 1}, "result_@_items"),  # no methods, no dict internals
        (_Obj(a=1), "result_@___class__"),
    ],
)
def test_parse_execution_output_failures_give_none(value, selector):
    assert parse_execution_output("result", value, selector) is None


def test_tool_pin_routes_only_to_the_named_sink():
    name = "tools_^_node123_~_query"
    assert parse_execution_output(name, "search term", "tools", "node123", "query") == "search term"
    assert parse_execution_output(name, "search term", "tools", "node456", "query") is None
    assert parse_execution_output(name, "search term", "tools", "node123", "different_pin") is None
    complex_value = {"key": "value"}
    assert parse_execution_output(
        "tools_^_node789_~_nested_field", complex_value, "tools", "node789", "nested_field"
    ) == complex_value
    assert parse_execution_output(name, "search term", "different_name", "node123", "query") is None


def test_tool_pin_without_sink_info_is_an_error():
    with pytest.raises(ValueError, match="must be provided for tool pin routing"):
        parse_execution_output("tools_^_node123_~_query", "search term", "tools", "node123")
    with pytest.raises(ValueError):
        parse_execution_output("tools_^_node123_~_query", "search term", "tools")


# -- merge_execution_input ------------------------------------------------------------------------


def test_merge_lists_dicts_objects():
    assert merge_execution_input({"list_$_0": "a", "list_$_1": "b"})["list"] == ["a", "b"]
    assert merge_execution_input({"dict_#_key1": "value1", "dict_#_key2": "value2"})["dict"] == {
        "key1": "value1",
        "key2": "value2",
    }
    obj = merge_execution_input({"object_@_attr1": "value1", "object_@_attr2": "value2"})["object"]
    assert isinstance(obj, PinObject)
    assert (obj.attr1, obj.attr2) == ("value1", "value2")


def test_merge_keeps_flat_keys_and_pads_lists():
    data = {"list_$_0": "a", "list_$_3": "d", "plain": 1}
    result = merge_execution_input(data)
    assert result is data
    assert result == {"list_$_0": "a", "list_$_3": "d", "plain": 1, "list": ["a", None, None, "d"]}


def test_merge_nested_structures():
    result = merge_execution_input(
        {"nested_list_$_0_$_0": "a", "nested_list_$_0_$_1": "b", "nested_list_$_1_$_0": "c"}
    )
    assert result["nested_list"] == [["a", "b"], ["c"]]

    result = merge_execution_input(
        {"lwd_$_0_#_key1": "value1", "lwd_$_0_#_key2": "value2", "lwd_$_1_#_key3": "value3"}
    )
    assert result["lwd"] == [{"key1": "value1", "key2": "value2"}, {"key3": "value3"}]

    result = merge_execution_input(
        {"dwl_#_key1_$_0": "value1", "dwl_#_key1_$_1": "value2", "dwl_#_key2_$_0": "value3"}
    )
    assert result["dwl"] == {"key1": ["value1", "value2"], "key2": ["value3"]}

    result = merge_execution_input(
        {
            "complex_$_0_#_key1_$_0": "value1",
            "complex_$_0_#_key1_$_1": "value2",
            "complex_$_0_#_key2_@_attr1": "value3",
            "complex_$_1_#_key3_$_0": "value4",
        }
    )
    assert result["complex"][0]["key1"] == ["value1", "value2"]
    assert isinstance(result["complex"][0]["key2"], PinObject)
    assert result["complex"][0]["key2"].attr1 == "value3"
    assert result["complex"][1]["key3"] == ["value4"]


def test_merge_delimiters_in_any_order():
    result = merge_execution_input({"nested_$_0_#_key_$_0": "value1", "nested_$_0_#_key_$_1": "value2"})
    assert result["nested"][0]["key"] == ["value1", "value2"]

    result = merge_execution_input({"nested_#_key_$_0_@_attr": "value1", "nested_#_key_$_1_@_attr": "value2"})
    items = result["nested"]["key"]
    assert isinstance(items[0], PinObject)
    assert [items[0].attr, items[1].attr] == ["value1", "value2"]

    result = merge_execution_input({"nested_@_items_$_0_#_key": "value1", "nested_@_items_$_1_#_key": "value2"})
    assert isinstance(result["nested"], PinObject)
    assert result["nested"].items == [{"key": "value1"}, {"key": "value2"}]

    result = merge_execution_input(
        {
            "deep_#_key_$_0_@_data_$_0_#_items_$_0_#_value": "deep_value",
            "deep_#_key_$_0_@_data_$_1_#_items_$_0_#_value": "another_value",
        }
    )
    data = result["deep"]["key"][0].data
    assert data[0]["items"][0]["value"] == "deep_value"
    assert data[1]["items"][0]["value"] == "another_value"


def test_merge_conflicting_container_types_last_wins():
    result = merge_execution_input(
        {
            "mixed_$_0_#_key_@_attr": "value1",
            "mixed_#_key_$_0_@_attr": "value2",
            "mixed_@_attr_$_0_#_key": "value3",
        }
    )
    assert result["mixed"].attr[0]["key"] == "value3"


def test_merge_invalid_list_index():
    with pytest.raises(ValueError, match="index must be an integer"):
        merge_execution_input({"list_$_invalid": "value"})


def test_merge_malformed_path_keeps_raw_key():
    result = merge_execution_input({"values_#_": "x", "list_$_0_$_": "y"})
    assert result == {"values_#_": "x", "list_$_0_$_": "y"}


def test_merge_extends_a_plain_value_without_mutating_it():
    original = {"c": "!!!"}
    data = {"values": original, "values_#_a": "Hello"}
    result = merge_execution_input(data)
    assert result["values"] == {"c": "!!!", "a": "Hello"}
    assert original == {"c": "!!!"}


def test_merge_fill_text_template_shape():
    data = {"format": "{{a}}, {{b}}{{c}}", "values_#_c": "!!!", "values_#_a": "Hello", "values_#_b": "World"}
    assert merge_execution_input(data) == {
        "format": "{{a}}, {{b}}{{c}}",
        "values": {"c": "!!!", "a": "Hello", "b": "World"},
        "values_#_a": "Hello",
        "values_#_b": "World",
        "values_#_c": "!!!",
    }
