"""Branching blocks (AutoGPT ids): route a value to a yes/no pin depending on a test.

Both blocks first yield ``result`` (the boolean) and then exactly one of ``yes_output`` /
``no_output``, so downstream nodes wired to the branch not taken simply never receive input.
Values arriving from text pins are often numbers in disguise ("10 "), hence the parsing rules.
"""

from __future__ import annotations

import enum
import operator
from collections.abc import AsyncIterator
from typing import Any

from services.blocks.basic import convert_value
from services.domain.blocks.base import (
    Block,
    BlockCategory,
    BlockSchemaInput,
    BlockSchemaOutput,
    RunContext,
    SchemaField,
)


class ComparisonOperator(str, enum.Enum):
    EQUAL = "=="
    NOT_EQUAL = "!="
    GREATER_THAN = ">"
    LESS_THAN = "<"
    GREATER_THAN_OR_EQUAL = ">="
    LESS_THAN_OR_EQUAL = "<="


_COMPARE = {
    ComparisonOperator.EQUAL: operator.eq,
    ComparisonOperator.NOT_EQUAL: operator.ne,
    ComparisonOperator.GREATER_THAN: operator.gt,
    ComparisonOperator.LESS_THAN: operator.lt,
    ComparisonOperator.GREATER_THAN_OR_EQUAL: operator.ge,
    ComparisonOperator.LESS_THAN_OR_EQUAL: operator.le,
}


def _normalize(value: Any) -> Any:
    """Strip strings and read them as floats when they look like numbers ("10 " -> 10.0)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        return text


class ConditionBlock(Block):
    """Compares two values with a chosen operator and branches on the outcome."""

    id = "715696a0-e1da-45c8-b209-c2fa9c3b0be6"
    description = "Compares two values with a comparison operator and branches on the result."
    categories = frozenset({BlockCategory.LOGIC})

    class Input(BlockSchemaInput):
        value1: Any = SchemaField(description="The first value to compare.",
                                  placeholder="For example: 10 or 'hello' or True")
        operator: ComparisonOperator = SchemaField(description="The comparison operator.",
                                                   placeholder="Select an operator")
        value2: Any = SchemaField(description="The second value to compare.",
                                  placeholder="For example: 20 or 'world' or False")
        yes_value: Any = SchemaField(default=None, description="Emitted on yes_output when the condition "
                                     "holds; value1 is emitted when left empty.")
        no_value: Any = SchemaField(default=None, description="Emitted on no_output when the condition "
                                    "fails; value2 is emitted when left empty.")

    class Output(BlockSchemaOutput):
        result: bool = SchemaField(description="Whether the condition holds.")
        yes_output: Any = SchemaField(description="Emitted when the condition holds.")
        no_output: Any = SchemaField(description="Emitted when the condition does not hold.")

    test_input = [
        {"value1": 10, "operator": ">", "value2": 5, "yes_value": "Greater", "no_value": "Not greater"},
        {"value1": " 3 ", "operator": ">=", "value2": "10", "yes_value": "yes"},
        {"value1": "apple", "operator": "==", "value2": " apple "},
        {"value1": "2.5", "operator": "<", "value2": 3},
    ]
    test_output = [
        ("result", True), ("yes_output", "Greater"),
        ("result", False), ("no_output", 10.0),  # no_value empty -> parsed value2
        ("result", True), ("yes_output", "apple"),
        ("result", True), ("yes_output", 2.5),  # yes_value empty -> parsed value1
    ]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        value1 = _normalize(input_data.value1)
        value2 = _normalize(input_data.value2)
        op = ComparisonOperator(input_data.operator)
        try:
            result = bool(_COMPARE[op](value1, value2))
        except Exception as exc:
            raise ValueError(f"cannot compare {value1!r} {op.value} {value2!r}: {exc}") from exc
        yield "result", result
        if result:
            yield "yes_output", input_data.yes_value if input_data.yes_value is not None else value1
        else:
            yield "no_output", input_data.no_value if input_data.no_value is not None else value2


class IfInputMatchesBlock(Block):
    """Checks ``input`` for equality with ``value`` (after coercing ``value`` to input's type)."""

    id = "6dbbc4b3-ca6c-42b6-b508-da52d23e13f2"
    description = "Checks whether the input equals a value and branches on the result."
    categories = frozenset({BlockCategory.LOGIC})

    class Input(BlockSchemaInput):
        input: Any = SchemaField(description="The input to match against.",
                                 placeholder="For example: 10 or 'hello' or True")
        value: Any = SchemaField(description="The value the input is compared with.",
                                 placeholder="For example: 'Greater' or 20 or False")
        yes_value: Any = SchemaField(default=None, description="Emitted on yes_output when the input "
                                     "matches; the input itself is emitted when left empty.")
        no_value: Any = SchemaField(default=None, description="Emitted on no_output when the input "
                                    "does not match; the input itself is emitted when left empty.")

    class Output(BlockSchemaOutput):
        result: bool = SchemaField(description="Whether the input matches the value.")
        yes_output: Any = SchemaField(description="Emitted when the input matches.")
        no_output: Any = SchemaField(description="Emitted when the input does not match.")

    test_input = [
        {"input": 10, "value": 10, "yes_value": "Greater", "no_value": "Not greater"},
        {"input": 10, "value": 20, "yes_value": "Greater", "no_value": "Not greater"},
        {"input": 10, "value": "None", "yes_value": "Yes", "no_value": "No"},
        {"input": 10, "value": "10"},
        {"input": True, "value": "true", "yes_value": "on"},
        {"input": "abc", "value": "abd"},
    ]
    test_output = [
        ("result", True), ("yes_output", "Greater"),
        ("result", False), ("no_output", "Not greater"),
        ("result", False), ("no_output", "No"),
        ("result", True), ("yes_output", 10),  # "10" coerced to int; yes_value empty -> input
        ("result", True), ("yes_output", "on"),
        ("result", False), ("no_output", "abc"),
    ]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        given, expected = input_data.input, input_data.value
        if given != expected and given is not None and expected is not None:
            try:
                expected = convert_value(expected, type(given))
            except ValueError:
                pass  # unconvertible: compare as-is
        matched = bool(given == expected)
        yield "result", matched
        if matched:
            yield "yes_output", input_data.yes_value if input_data.yes_value is not None else given
        else:
            yield "no_output", input_data.no_value if input_data.no_value is not None else given
