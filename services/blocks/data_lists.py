"""Single-list blocks (AutoGPT ids, pins and defaults): build, read and edit one list.

As with the dictionary blocks, edits are made on a copy so an input list shared through a static
link is never changed under another node. Index errors are reported on the ``error`` pin rather
than raised, so a graph can route around them.

Note: these modules avoid ``from __future__ import annotations`` and use ``typing.List`` because
several inputs are literally named ``list`` (AutoGPT's pin name), which would shadow the builtin
while pydantic evaluates the annotations.
"""

import json
import math
from typing import Any, AsyncIterator, List

from services.domain.blocks.base import (
    Block,
    BlockCategory,
    BlockSchemaInput,
    BlockSchemaOutput,
    RunContext,
    SchemaField,
)


def _new_list() -> List[Any]:
    """Default factory usable inside classes whose ``list`` field shadows the builtin."""
    return []


def estimate_tokens(value: Any) -> int:
    """A cheap, dependency-free token estimate (about four characters per token).

    CreateListBlock only needs a consistent budget to split on, not an exact tokenizer count.
    """
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return max(1, math.ceil(len(text) / 4))


class CreateListBlock(Block):
    id = "a912d5c7-6e00-4542-b2a9-8034136930e4"
    description = "Creates a list from the given values, optionally split into size- or token-bounded chunks."
    categories = frozenset({BlockCategory.DATA})

    class Input(BlockSchemaInput):
        values: List[Any] = SchemaField(description="The values of the list.", placeholder="e.g., ['A', 'B', 'C']")
        max_size: int | None = SchemaField(
            default=None, description="Largest number of items per yielded list.", advanced=True)
        max_tokens: int | None = SchemaField(
            default=None, description="Largest estimated token count per yielded list.", advanced=True)

    class Output(BlockSchemaOutput):
        list: List[Any] = SchemaField(description="The created list (one yield per chunk).")

    test_input = [
        {"values": ["A", "B", "C"]},
        {"values": [1, 2, 3]},
        {"values": [1, 2, 3, 4, 5], "max_size": 2},
        {"values": ["aaaa", "bbbb", "cccc"], "max_tokens": 2},
    ]
    test_output = [
        ("list", ["A", "B", "C"]),
        ("list", [1, 2, 3]),
        ("list", [1, 2]),
        ("list", [3, 4]),
        ("list", [5]),
        ("list", ["aaaa", "bbbb"]),
        ("list", ["cccc"]),
    ]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        max_size, max_tokens = input_data.max_size, input_data.max_tokens
        chunk: List[Any] = []
        chunk_tokens = 0
        for value in input_data.values:
            tokens = estimate_tokens(value) if max_tokens else 0
            full = ((max_size and len(chunk) >= max_size)
                    or (max_tokens and chunk and chunk_tokens + tokens > max_tokens))
            if full:
                yield "list", chunk
                chunk, chunk_tokens = [], 0
            chunk.append(value)
            chunk_tokens += tokens
        # An empty input still yields one (empty) list so downstream nodes run.
        if chunk or not input_data.values:
            yield "list", chunk


class AddToListBlock(Block):
    id = "aeb08fc1-2fc1-4141-bc8e-f758f183a822"
    description = "Adds one entry and/or several entries to a list, at a position or at the end."
    categories = frozenset({BlockCategory.BASIC})

    class Input(BlockSchemaInput):
        list: List[Any] = SchemaField(
            default_factory=_new_list, description="The list to add to. Starts empty when not given.")
        entry: Any = SchemaField(default=None, description="One entry to add.", advanced=False)
        entries: List[Any] = SchemaField(
            default_factory=_new_list, description="Several entries to add.", advanced=False)
        position: int | None = SchemaField(
            default=None, description="Where to insert (Python index, negative allowed); appended when not given.")

    class Output(BlockSchemaOutput):
        updated_list: List[Any] = SchemaField(description="The list with the new entries.")

    test_input = [
        {"list": [1, "string", {"existing_key": "existing_value"}], "entry": {"new_key": "new_value"}, "position": 1},
        {"list": [], "entry": {"first_key": "first_value"}},
        {"list": [1, 2], "entries": [3, 4], "entry": 5},
        {"list": ["a", "d"], "entries": ["b", "c"], "position": -1},
    ]
    test_output = [
        ("updated_list", [1, {"new_key": "new_value"}, "string", {"existing_key": "existing_value"}]),
        ("updated_list", [{"first_key": "first_value"}]),
        ("updated_list", [1, 2, 3, 4, 5]),
        ("updated_list", ["a", "b", "c", "d"]),
    ]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        added = list(input_data.entries)
        if input_data.entry is not None:
            added.append(input_data.entry)
        updated = list(input_data.list)
        if input_data.position is None:
            updated.extend(added)
        else:
            updated[input_data.position:input_data.position] = added
        yield "updated_list", updated


class FindInListBlock(Block):
    id = "5e2c6d0a-1e37-489f-b1d0-8e1812b23333"
    description = "Finds the index of a value in a list."
    categories = frozenset({BlockCategory.BASIC})

    class Input(BlockSchemaInput):
        list: List[Any] = SchemaField(description="The list to search.")
        value: Any = SchemaField(description="The value to find.")

    class Output(BlockSchemaOutput):
        index: int = SchemaField(description="Index of the first occurrence.")
        found: bool = SchemaField(description="Whether the value was found.")
        not_found_value: Any = SchemaField(description="The value that was not found.")

    test_input = [{"list": [1, 2, 3, 4, 5], "value": 3}, {"list": [1, 2, 3, 4, 5], "value": 6}]
    test_output = [("index", 2), ("found", True), ("found", False), ("not_found_value", 6)]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        try:
            index = input_data.list.index(input_data.value)
        except ValueError:
            yield "found", False
            yield "not_found_value", input_data.value
            return
        yield "index", index
        yield "found", True


class GetListItemBlock(Block):
    id = "262ca24c-1025-43cf-a578-534e23234e97"
    description = "Returns the item at an index (negative indexes count from the end)."
    categories = frozenset({BlockCategory.BASIC})

    class Input(BlockSchemaInput):
        list: List[Any] = SchemaField(description="The list to read.")
        index: int = SchemaField(description="The index of the item; -1 is the last one.")

    class Output(BlockSchemaOutput):
        item: Any = SchemaField(description="The item at the index.")

    test_input = [{"list": [1, 2, 3], "index": 1}, {"list": [1, 2, 3], "index": -1}]
    test_output = [("item", 2), ("item", 3)]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        try:
            yield "item", input_data.list[input_data.index]
        except IndexError:
            yield "error", f"Index {input_data.index} out of range for a list of {len(input_data.list)} items"


class RemoveFromListBlock(Block):
    id = "d93c5a93-ac7e-41c1-ae5c-ef67e6e9b826"
    description = "Removes an item from a list by index, or the first occurrence of a value."
    categories = frozenset({BlockCategory.BASIC})

    class Input(BlockSchemaInput):
        list: List[Any] = SchemaField(description="The list to change.")
        value: Any = SchemaField(default=None, description="The value to remove (first occurrence).")
        index: int | None = SchemaField(default=None, description="The index to remove; wins over value.")
        return_item: bool = SchemaField(default=False, description="Whether to yield the removed item.")

    class Output(BlockSchemaOutput):
        updated_list: List[Any] = SchemaField(description="The list without the item.")
        removed_item: Any = SchemaField(description="The removed item, when requested.")

    test_input = [
        {"list": [1, 2, 3], "index": 1, "return_item": True},
        {"list": ["a", "b", "c"], "value": "b"},
    ]
    test_output = [("updated_list", [1, 3]), ("removed_item", 2), ("updated_list", ["a", "c"])]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        updated = list(input_data.list)
        try:
            if input_data.index is not None:
                removed = updated.pop(input_data.index)
            elif input_data.value is not None:
                updated.remove(input_data.value)
                removed = input_data.value
            else:
                yield "error", "Provide an index or a value to remove"
                return
        except (IndexError, ValueError):
            yield "error", "Index or value not found in the list"
            return
        yield "updated_list", updated
        if input_data.return_item:
            yield "removed_item", removed


class ReplaceListItemBlock(Block):
    id = "fbf62922-bea1-4a3d-8bac-23587f810b38"
    description = "Replaces the item at an index, yielding the old item too."
    categories = frozenset({BlockCategory.BASIC})

    class Input(BlockSchemaInput):
        list: List[Any] = SchemaField(description="The list to change.")
        index: int = SchemaField(description="The index to replace (negative allowed).")
        value: Any = SchemaField(description="The new item.")

    class Output(BlockSchemaOutput):
        updated_list: List[Any] = SchemaField(description="The list with the new item.")
        old_item: Any = SchemaField(description="The item that was replaced.")

    test_input = [
        {"list": [1, 2, 3], "index": 1, "value": 99},
        {"list": ["a", "b"], "index": -1, "value": "c"},
    ]
    test_output = [
        ("updated_list", [1, 99, 3]), ("old_item", 2),
        ("updated_list", ["a", "c"]), ("old_item", "b"),
    ]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        updated = list(input_data.list)
        try:
            old = updated[input_data.index]
        except IndexError:
            yield "error", f"Index {input_data.index} out of range for a list of {len(updated)} items"
            return
        updated[input_data.index] = input_data.value
        yield "updated_list", updated
        yield "old_item", old


class ListIsEmptyBlock(Block):
    id = "896ed73b-27d0-41be-813c-c1c1dc856c03"
    description = "Tells whether a list has no items."
    categories = frozenset({BlockCategory.BASIC})

    class Input(BlockSchemaInput):
        list: List[Any] = SchemaField(description="The list to check.")

    class Output(BlockSchemaOutput):
        is_empty: bool = SchemaField(description="True when the list is empty.")

    test_input = [{"list": []}, {"list": [1]}]
    test_output = [("is_empty", True), ("is_empty", False)]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        yield "is_empty", len(input_data.list) == 0
