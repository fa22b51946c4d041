"""Arithmetic and counting blocks (AutoGPT ids).

Both blocks answer with a sentinel instead of failing (``inf``/``nan`` for the calculator, ``-1``
for the counter) so that a graph can branch on the odd value rather than stop mid-run; this is the
behaviour existing AutoGPT graphs rely on.
"""

from __future__ import annotations

import enum
import math
import operator
from collections.abc import AsyncIterator
from typing import Any

from services.domain.blocks.base import (
    Block,
    BlockCategory,
    BlockSchemaInput,
    BlockSchemaOutput,
    RunContext,
    SchemaField,
)


class Operation(str, enum.Enum):
    ADD = "Add"
    SUBTRACT = "Subtract"
    MULTIPLY = "Multiply"
    DIVIDE = "Divide"
    POWER = "Power"


_OPERATIONS = {
    Operation.ADD: operator.add,
    Operation.SUBTRACT: operator.sub,
    Operation.MULTIPLY: operator.mul,
    Operation.DIVIDE: operator.truediv,
    Operation.POWER: operator.pow,
}


class CalculatorBlock(Block):
    """Applies one arithmetic operation to ``a`` and ``b``; division by zero gives ``inf``."""

    id = "b1ab9b19-67a6-406d-abf5-2dba76d00c79"
    description = "Performs a mathematical operation on two numbers."
    categories = frozenset({BlockCategory.LOGIC})

    class Input(BlockSchemaInput):
        operation: Operation = SchemaField(description="The operation to perform.",
                                           placeholder="Select an operation")
        a: float = SchemaField(description="The first number (A).", placeholder="For example: 10")
        b: float = SchemaField(description="The second number (B).", placeholder="For example: 5")
        round_result: bool = SchemaField(default=False,
                                         description="Round the result to a whole number.")

    class Output(BlockSchemaOutput):
        result: float = SchemaField(description="The result of the calculation.")

    test_input = [
        {"operation": "Add", "a": 10.0, "b": 5.0, "round_result": False},
        {"operation": "Subtract", "a": 1, "b": 3},
        {"operation": "Multiply", "a": 2.5, "b": 4},
        {"operation": "Divide", "a": 10, "b": 3, "round_result": True},
        {"operation": "Divide", "a": 1, "b": 0},
        {"operation": "Power", "a": 2, "b": 10},
        {"operation": "Power", "a": 10, "b": 400},
    ]
    test_output = [
        ("result", 15.0),
        ("result", -2.0),
        ("result", 10.0),
        ("result", 3),
        ("result", math.inf),
        ("result", 1024.0),
        ("result", lambda v: isinstance(v, float) and math.isnan(v)),  # overflow -> nan
    ]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        op = Operation(input_data.operation)
        a, b = input_data.a, input_data.b
        if op is Operation.DIVIDE and b == 0:
            yield "result", math.inf
            return
        try:
            result = _OPERATIONS[op](a, b)
            if isinstance(result, complex):  # e.g. (-8) ** 0.5
                raise ValueError("complex result")
            if input_data.round_result:
                result = round(result)
        except ZeroDivisionError:  # 0 ** -1
            result = math.inf
        except Exception:  # noqa: BLE001 - any other arithmetic failure is NaN, as AutoGPT answers
            result = math.nan
        yield "result", result


class CountItemsBlock(Block):
    """Counts the elements of a string, list, dictionary or other iterable; ``-1`` if not countable."""

    id = "3c9c2f42-b0c3-435f-ba35-05f7a25c772a"
    description = "Counts the number of items in a collection."
    categories = frozenset({BlockCategory.LOGIC})

    class Input(BlockSchemaInput):
        collection: Any = SchemaField(
            description="The collection to count: a list, dictionary, string or other iterable.",
            placeholder="For example: [1, 2, 3] or {'a': 1, 'b': 2} or 'hello'")

    class Output(BlockSchemaOutput):
        count: int = SchemaField(description="The number of items in the collection.")

    test_input = [
        {"collection": [1, 2, 3, 4, 5]},
        {"collection": {"a": 1, "b": 2}},
        {"collection": "hello"},
        {"collection": 42},
    ]
    test_output = [("count", 5), ("count", 2), ("count", 5), ("count", -1)]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        collection = input_data.collection
        try:
            if isinstance(collection, (str, bytes, list, tuple, set, frozenset, dict)):
                count = len(collection)
            elif hasattr(collection, "__iter__"):
                count = sum(1 for _ in collection)
            else:
                count = -1
        except Exception:  # noqa: BLE001 - an uncountable collection counts -1, as AutoGPT answers
            count = -1
        yield "count", count
