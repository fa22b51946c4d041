"""Iteration block (AutoGPT id): fan a collection out into one ``item``/``key`` pair per element.

Each element becomes its own downstream execution, so an unbounded collection would be an easy
way to flood the executor; the item count and the size of JSON text are therefore capped.
"""

from __future__ import annotations

import json
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

MAX_ITEMS = 10_000
MAX_ITEMS_STR_CHARS = 1024 * 1024  # 1 MB of JSON text


class StepThroughItemsBlock(Block):
    """Iterates over ``items``, then ``items_object``, then ``items_str`` (JSON), skipping empty ones.

    For every element it yields ``item`` followed by ``key`` (the list index or dict key).
    """

    id = "f66a3543-28d3-4ab5-8945-9b336371e2ce"
    description = "Iterates over a list or dictionary and outputs each item with its key or index."
    categories = frozenset({BlockCategory.LOGIC})

    class Input(BlockSchemaInput):
        items: list = SchemaField(default_factory=list, advanced=False,
                                  description="A list of items to iterate over.",
                                  placeholder="[1, 2, 3, 4, 5]")
        items_object: dict = SchemaField(default_factory=dict, advanced=False,
                                         description="A dictionary whose values are iterated over.",
                                         placeholder="{'key1': 'value1', 'key2': 'value2'}")
        items_str: str = SchemaField(default="", advanced=False,
                                     description="A JSON list or object to iterate over.",
                                     placeholder="[1, 2, 3, 4, 5] or {'key1': 'value1', 'key2': 'value2'}")

    class Output(BlockSchemaOutput):
        item: Any = SchemaField(description="The current item.")
        key: Any = SchemaField(description="The index or key of the current item.")

    test_input = [
        {"items": [1, 2, 3, {"key1": "value1", "key2": "value2"}]},
        {"items_object": {"a": "x", "b": "y"}},
        {"items_str": '["p", "q"]'},
        {"items_str": "not json"},
    ]
    test_output = [
        ("item", 1), ("key", 0),
        ("item", 2), ("key", 1),
        ("item", 3), ("key", 2),
        ("item", {"key1": "value1", "key2": "value2"}), ("key", 3),
        ("item", "x"), ("key", "a"),
        ("item", "y"), ("key", "b"),
        ("item", "p"), ("key", 0),
        ("item", "q"), ("key", 1),
        ("error", lambda msg: "not valid JSON" in msg),
    ]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        for source in (input_data.items, input_data.items_object, input_data.items_str):
            if not source:
                continue
            if isinstance(source, str):
                if len(source) > MAX_ITEMS_STR_CHARS:
                    yield "error", f"items_str is too large: {len(source)} characters > {MAX_ITEMS_STR_CHARS}"
                    return
                try:
                    source = json.loads(source)
                except json.JSONDecodeError as exc:
                    yield "error", f"items_str is not valid JSON: {exc}"
                    return
                if not isinstance(source, (list, dict)):
                    yield "error", "items_str must hold a JSON list or object"
                    return
            if len(source) > MAX_ITEMS:
                yield "error", f"too many items: {len(source)} > {MAX_ITEMS}"
                return
            pairs = source.items() if isinstance(source, dict) else enumerate(source)
            for key, item in pairs:
                yield "item", item
                yield "key", key
