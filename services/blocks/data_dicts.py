"""Dictionary blocks (AutoGPT ids, pins and defaults): build, read and edit key/value data.

Every block that "changes" a dictionary works on a shallow copy and yields the copy, so the value a
node received (and may share with other nodes through a static link) is never mutated in place.
FindInDictionary is deliberately forgiving about its input because exported agents feed it whatever
an upstream block produced: JSON text, dicts, lists, lists of records or plain objects.
"""

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


class CreateDictionaryBlock(Block):
    id = "b924ddf4-de4f-4b56-9a85-358930dcbc91"
    description = "Creates a dictionary from the given key/value pairs."
    categories = frozenset({BlockCategory.DATA})

    class Input(BlockSchemaInput):
        values: dict[str, Any] = SchemaField(
            description="Key/value pairs for the new dictionary.",
            placeholder='e.g., {"name": "Alice", "age": 25}',
        )

    class Output(BlockSchemaOutput):
        dictionary: dict[str, Any] = SchemaField(description="The created dictionary.")

    test_input = [
        {"values": {"name": "Alice", "age": 25, "city": "New York"}},
        {"values": {"numbers": [1, 2, 3], "active": True, "score": 95.5}},
    ]
    test_output = [
        ("dictionary", {"name": "Alice", "age": 25, "city": "New York"}),
        ("dictionary", {"numbers": [1, 2, 3], "active": True, "score": 95.5}),
    ]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        yield "dictionary", dict(input_data.values)


class AddToDictionaryBlock(Block):
    id = "31d1064e-7446-4693-a7d4-65e5ca1180d1"
    description = "Adds one key/value pair and/or several entries to a dictionary (or starts a new one)."
    categories = frozenset({BlockCategory.BASIC})

    class Input(BlockSchemaInput):
        dictionary: dict[Any, Any] = SchemaField(
            default_factory=dict, description="The dictionary to add to. Starts empty when not given.")
        key: str = SchemaField(default="", description="The key of the new entry.", advanced=False)
        value: Any = SchemaField(default=None, description="The value of the new entry.", advanced=False)
        entries: dict[Any, Any] = SchemaField(
            default_factory=dict, description="Several entries to add at once.", advanced=True)

    class Output(BlockSchemaOutput):
        updated_dictionary: dict[Any, Any] = SchemaField(description="The dictionary with the new entries.")

    test_input = [
        {"dictionary": {"existing_key": "existing_value"}, "key": "new_key", "value": "new_value"},
        {"key": "first_key", "value": "first_value"},
        {"dictionary": {"existing_key": "existing_value"},
         "entries": {"new_key": "new_value", "first_key": "first_value"}},
    ]
    test_output = [
        ("updated_dictionary", {"existing_key": "existing_value", "new_key": "new_value"}),
        ("updated_dictionary", {"first_key": "first_value"}),
        ("updated_dictionary", {"existing_key": "existing_value", "new_key": "new_value", "first_key": "first_value"}),
    ]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        updated = dict(input_data.dictionary)
        # The single pair is only added when both halves are set, as in AutoGPT.
        if input_data.key and input_data.value is not None:
            updated[input_data.key] = input_data.value
        updated.update(input_data.entries)
        yield "updated_dictionary", updated


class _MockObject:
    """A plain object for the attribute-lookup example of FindInDictionaryBlock."""

    def __init__(self) -> None:
        self.value = "!!"
        self.key = "key"


def find_in(obj: Any, key: str | int) -> tuple[bool, Any]:
    """Look ``key`` up in ``obj``; returns (found, value).

    Order of attempts: dict key, list index (int keys, non-negative only), list of records (str key:
    the values of every dict that has it), then object attribute.
    """
    if isinstance(obj, dict):
        if key in obj:
            return True, obj[key]
        if isinstance(key, int) and str(key) in obj:  # JSON objects only have string keys
            return True, obj[str(key)]
        return False, None
    if isinstance(obj, (list, tuple)):
        if isinstance(key, int):
            if 0 <= key < len(obj):
                return True, obj[key]
            return False, None
        if not obj:
            return True, []
        if any(isinstance(item, dict) for item in obj):
            return True, [item[key] for item in obj if isinstance(item, dict) and key in item]
        return True, [getattr(item, key) for item in obj if hasattr(item, key)]
    if isinstance(key, str) and obj is not None and not isinstance(obj, (str, bytes, int, float, bool)):
        if hasattr(obj, key) and not key.startswith("_"):
            return True, getattr(obj, key)
    return False, None


class FindInDictionaryBlock(Block):
    id = "0e50422c-6dee-4145-83d6-3a5a392f65de"
    description = "Looks a key up in a dictionary, list, list of records or object."
    categories = frozenset({BlockCategory.BASIC})

    class Input(BlockSchemaInput):
        input: Any = SchemaField(description="The data to search (JSON text is parsed first).")
        key: str | int = SchemaField(description="The key, index or attribute to look up.")

    class Output(BlockSchemaOutput):
        output: Any = SchemaField(description="The value found.")
        missing: Any = SchemaField(description="The original input, when the key was not found.")

    test_input = [
        {"input": {"apple": 1, "banana": 2, "cherry": 3}, "key": "banana"},
        {"input": {"x": 10, "y": 20, "z": 30}, "key": "w"},
        {"input": [1, 2, 3], "key": 1},
        {"input": [1, 2, 3], "key": 3},
        {"input": _MockObject(), "key": "key"},
        {"input": [{"k1": "v1"}, {"k2": "v2"}, {"k1": "v3"}], "key": "k1"},
        {"input": '{"name": "Ada"}', "key": "name"},
    ]
    test_output = [
        ("output", 2),
        ("missing", {"x": 10, "y": 20, "z": 30}),
        ("output", 2),
        ("missing", [1, 2, 3]),
        ("output", "key"),
        ("output", ["v1", "v3"]),
        ("output", "Ada"),
    ]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        obj = input_data.input
        if isinstance(obj, str):
            try:
                obj = json.loads(obj)
            except ValueError:
                pass  # plain text: nothing to look up in, reported as missing below
        found, value = find_in(obj, input_data.key)
        if found:
            yield "output", value
        else:
            yield "missing", input_data.input


class RemoveFromDictionaryBlock(Block):
    id = "46afe2ea-c613-43f8-95ff-6692c3ef6876"
    description = "Removes a key from a dictionary, optionally yielding the removed value."
    categories = frozenset({BlockCategory.BASIC})

    class Input(BlockSchemaInput):
        dictionary: dict[Any, Any] = SchemaField(description="The dictionary to change.")
        key: str | int = SchemaField(description="The key to remove.")
        return_value: bool = SchemaField(default=False, description="Whether to yield the removed value.")

    class Output(BlockSchemaOutput):
        updated_dictionary: dict[Any, Any] = SchemaField(description="The dictionary without the key.")
        removed_value: Any = SchemaField(description="The removed value, when requested.")

    test_input = [
        {"dictionary": {"a": 1, "b": 2, "c": 3}, "key": "b", "return_value": True},
        {"dictionary": {"x": "hello", "y": "world"}, "key": "x"},
    ]
    test_output = [
        ("updated_dictionary", {"a": 1, "c": 3}),
        ("removed_value", 2),
        ("updated_dictionary", {"y": "world"}),
    ]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        updated = dict(input_data.dictionary)
        if input_data.key not in updated:
            yield "error", f"Key {input_data.key!r} not found in dictionary"
            return
        removed = updated.pop(input_data.key)
        yield "updated_dictionary", updated
        if input_data.return_value:
            yield "removed_value", removed


class ReplaceDictionaryValueBlock(Block):
    id = "27e31876-18b6-44f3-ab97-f6226d8b3889"
    description = "Replaces the value of an existing key, yielding the old value too."
    categories = frozenset({BlockCategory.BASIC})

    class Input(BlockSchemaInput):
        dictionary: dict[Any, Any] = SchemaField(description="The dictionary to change.")
        key: str | int = SchemaField(description="The key whose value is replaced.")
        value: Any = SchemaField(description="The new value.")

    class Output(BlockSchemaOutput):
        updated_dictionary: dict[Any, Any] = SchemaField(description="The dictionary with the new value.")
        old_value: Any = SchemaField(description="The value that was replaced.")

    test_input = [
        {"dictionary": {"a": 1, "b": 2, "c": 3}, "key": "b", "value": 99},
        {"dictionary": {"x": "hello", "y": "world"}, "key": "y", "value": "universe"},
    ]
    test_output = [
        ("updated_dictionary", {"a": 1, "b": 99, "c": 3}),
        ("old_value", 2),
        ("updated_dictionary", {"x": "hello", "y": "universe"}),
        ("old_value", "world"),
    ]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        updated = dict(input_data.dictionary)
        if input_data.key not in updated:
            yield "error", f"Key {input_data.key!r} not found in dictionary"
            return
        old = updated[input_data.key]
        updated[input_data.key] = input_data.value
        yield "updated_dictionary", updated
        yield "old_value", old


class DictionaryIsEmptyBlock(Block):
    id = "a3cf3f64-6bb9-4cc6-9900-608a0b3359b0"
    description = "Tells whether a dictionary has no entries."
    categories = frozenset({BlockCategory.BASIC})

    class Input(BlockSchemaInput):
        dictionary: dict[Any, Any] = SchemaField(description="The dictionary to check.")

    class Output(BlockSchemaOutput):
        is_empty: bool = SchemaField(description="True when the dictionary is empty.")

    test_input = [{"dictionary": {}}, {"dictionary": {"a": 1}}]
    test_output = [("is_empty", True), ("is_empty", False)]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        yield "is_empty", len(input_data.dictionary) == 0
