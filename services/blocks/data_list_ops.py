"""Multi-list blocks (AutoGPT ids, pins and defaults): concatenate, flatten and zip.

The list-of-lists shape is checked by the pydantic ``Input`` (and again defensively in ``run``), so
a wrong shape is reported as an input error rather than a traceback. Each block also yields
``length`` so a graph can branch on the size without a separate counting block.
"""

import json
from collections.abc import AsyncIterator
from typing import Any

from services.blocks.bounds import approx_size, too_many_chars, too_many_items
from services.domain.blocks.base import (
    Block,
    BlockCategory,
    BlockSchemaInput,
    BlockSchemaOutput,
    RunContext,
    SchemaField,
)


def _dedup_key(item: Any) -> Any:
    """A hashable stand-in for ``item`` so unhashable values (dicts, lists) can be de-duplicated."""
    try:
        hash(item)
        return (0, type(item).__name__, item)
    except TypeError:
        return (1, json.dumps(item, sort_keys=True, default=repr))


def _not_lists(lists: list[Any]) -> list[str]:
    return [f"item {i} is {type(v).__name__}" for i, v in enumerate(lists) if not isinstance(v, list)]


class ConcatenateListsBlock(Block):
    id = "3cf9298b-5817-4141-9d80-7c2cc5199c8e"
    description = "Joins several lists into one, optionally dropping duplicates and None items."
    categories = frozenset({BlockCategory.BASIC})

    class Input(BlockSchemaInput):
        lists: list[list[Any]] = SchemaField(
            description="The lists to join, in order.", placeholder="e.g., [[1, 2], [3, 4]]")
        deduplicate: bool = SchemaField(
            default=False, description="Keep only the first occurrence of each item.", advanced=True)
        remove_none: bool = SchemaField(default=False, description="Drop None items.", advanced=True)

    class Output(BlockSchemaOutput):
        concatenated_list: list[Any] = SchemaField(description="All items, in order.")
        length: int = SchemaField(description="Number of items in the result.")

    test_input = [
        {"lists": [[1, 2, 3], [4, 5, 6]]},
        {"lists": [["a", "b"], ["c"], ["d", "e", "f"]]},
        {"lists": [[1, 2], []]},
        {"lists": []},
        {"lists": [[1, None, 2], [2, {"k": 1}, None, {"k": 1}]], "deduplicate": True, "remove_none": True},
    ]
    test_output = [
        ("concatenated_list", [1, 2, 3, 4, 5, 6]), ("length", 6),
        ("concatenated_list", ["a", "b", "c", "d", "e", "f"]), ("length", 6),
        ("concatenated_list", [1, 2]), ("length", 2),
        ("concatenated_list", []), ("length", 0),
        ("concatenated_list", [1, 2, {"k": 1}]), ("length", 3),
    ]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        lists = input_data.lists
        bad = _not_lists(lists)
        if bad:
            yield "error", "Every input must be a list: " + ", ".join(bad)
            return
        refused = too_many_items(sum(map(len, lists)), "the concatenated list")
        if refused:
            yield "error", refused
            return
        result: list[Any] = [item for lst in lists for item in lst]
        if input_data.remove_none:
            result = [item for item in result if item is not None]
        if input_data.deduplicate:
            seen: set = set()
            unique = []
            for item in result:
                key = _dedup_key(item)
                if key not in seen:
                    seen.add(key)
                    unique.append(item)
            result = unique
        yield "concatenated_list", result
        yield "length", len(result)


def nesting_depth(value: Any) -> int:
    """Depth of list nesting: a flat list is 1, a list holding a list is 2, a non-list is 0."""
    if not isinstance(value, list):
        return 0
    deepest, stack = 1, [(value, 1)]
    while stack:  # iterative so very deep input cannot exhaust the recursion limit
        current, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((item, depth + 1) for item in current if isinstance(item, list))
    return deepest


def flatten(value: list[Any], max_depth: int) -> list[Any]:
    """Flatten ``max_depth`` levels of nesting (-1: all of them), keeping item order."""
    out: list[Any] = []
    stack: list[tuple] = [(iter(value), 0)]
    while stack:
        items, level = stack[-1]
        item = next(items, _END)
        if item is _END:
            stack.pop()
        elif isinstance(item, list) and (max_depth < 0 or level < max_depth):
            stack.append((iter(item), level + 1))
        else:
            out.append(item)
    return out


_END = object()


class FlattenListBlock(Block):
    id = "cc45bb0f-d035-4756-96a7-fe3e36254b4d"
    description = "Flattens nested lists into one list, fully or down to a maximum depth."
    categories = frozenset({BlockCategory.BASIC})

    class Input(BlockSchemaInput):
        nested_list: list[Any] = SchemaField(
            description="The nested list to flatten.", placeholder="e.g., [[1, [2, 3]], [4]]")
        max_depth: int = SchemaField(
            default=-1, ge=-1, description="How many levels to flatten; -1 flattens everything.", advanced=True)

    class Output(BlockSchemaOutput):
        flattened_list: list[Any] = SchemaField(description="The flattened list.")
        length: int = SchemaField(description="Number of items in the flattened list.")
        original_depth: int = SchemaField(description="Nesting depth of the input (a flat list is 1).")

    test_input = [
        {"nested_list": [[1, 2], [3, [4, 5]]]},
        {"nested_list": [1, [2, [3, [4]]]], "max_depth": 1},
        {"nested_list": []},
    ]
    test_output = [
        ("flattened_list", [1, 2, 3, 4, 5]), ("length", 5), ("original_depth", 3),
        ("flattened_list", [1, 2, [3, [4]]]), ("length", 3), ("original_depth", 4),
        ("flattened_list", []), ("length", 0), ("original_depth", 1),
    ]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        flat = flatten(input_data.nested_list, input_data.max_depth)
        yield "flattened_list", flat
        yield "length", len(flat)
        yield "original_depth", nesting_depth(input_data.nested_list)


class ZipListsBlock(Block):
    id = "0d0e684f-5cb9-4c4b-b8d1-47a0860e0c07"
    description = "Pairs up the items of several lists by position."
    categories = frozenset({BlockCategory.BASIC})

    class Input(BlockSchemaInput):
        lists: list[list[Any]] = SchemaField(
            description="The lists to zip.", placeholder="e.g., [[1, 2, 3], ['a', 'b', 'c']]")
        pad_to_longest: bool = SchemaField(
            default=False, description="Pad shorter lists instead of stopping at the shortest.", advanced=True)
        fill_value: Any = SchemaField(default=None, description="The padding value.", advanced=True)

    class Output(BlockSchemaOutput):
        zipped_list: list[list[Any]] = SchemaField(description="One list per position, holding each input's item.")
        length: int = SchemaField(description="Number of zipped groups.")

    test_input = [
        {"lists": [[1, 2, 3], ["a", "b", "c"]]},
        {"lists": [[1, 2, 3], ["a", "b"]]},
        {"lists": [[1, 2, 3], ["a", "b"]], "pad_to_longest": True, "fill_value": "-"},
        {"lists": []},
    ]
    test_output = [
        ("zipped_list", [[1, "a"], [2, "b"], [3, "c"]]), ("length", 3),
        ("zipped_list", [[1, "a"], [2, "b"]]), ("length", 2),
        ("zipped_list", [[1, "a"], [2, "b"], [3, "-"]]), ("length", 3),
        ("zipped_list", []), ("length", 0),
    ]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        lists = input_data.lists
        bad = _not_lists(lists)
        if bad:
            yield "error", "Every input must be a list: " + ", ".join(bad)
            return
        if not lists:
            zipped: list[Any] = []
        else:
            size = max(map(len, lists)) if input_data.pad_to_longest else min(map(len, lists))
            fill = input_data.fill_value
            refused = too_many_items(size * len(lists), "the zipped list") or (
                input_data.pad_to_longest and fill is not None
                and too_many_chars(sum(size - len(lst) for lst in lists) * approx_size(fill), "the padding"))
            if refused:  # one long list and many empty ones multiply the fill value
                yield "error", refused
                return
            zipped = [[lst[i] if i < len(lst) else fill for lst in lists] for i in range(size)]
        yield "zipped_list", zipped
        yield "length", len(zipped)
