"""Basic utility blocks (AutoGPT ids): constants, notes, type conversion, list reversal, debug print.

Also home of ``convert_value``, the lenient value-to-type conversion AutoGPT applies when a value of
one JSON shape meets a pin expecting another (a number pin fed a list gets its length, a list pin
fed a plain string gets a one-element list...). The converter and branching blocks share it so
their coercions agree with each other and with exported graphs built against AutoGPT.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from services.domain.blocks.base import (
    Block,
    BlockCategory,
    BlockSchemaInput,
    BlockSchemaOutput,
    BlockType,
    RunContext,
    SchemaField,
)

logger = logging.getLogger(__name__)


class ConversionError(ValueError):
    """A value could not be turned into the requested type."""


def _to_list(value: Any) -> list:
    if isinstance(value, (list, tuple, set)):
        return list(value)
    if isinstance(value, dict):
        return [[k, v] for k, v in value.items()]
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                pass
        return [text]
    return [value]


def _to_dict(value: Any) -> dict:
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return {"value": value}
        return parsed if isinstance(parsed, dict) else {"value": parsed}
    if isinstance(value, (list, tuple)):
        # String keys: the result is stored as JSON, where AutoGPT's integer keys become strings anyway.
        return {str(i): item for i, item in enumerate(value)}
    return {"value": value}


def _to_number(value: Any, num_type: type) -> Any:
    if isinstance(value, (list, dict, tuple, set)):
        return num_type(len(value))
    if isinstance(value, num_type):
        return value
    try:
        return num_type(float(value))
    except (ValueError, TypeError):
        return num_type(0)  # unparseable text counts as zero, as in AutoGPT


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1")
    return bool(value)


def _to_str(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


_CONVERTERS = {
    str: _to_str,
    float: lambda v: _to_number(v, float),
    int: lambda v: _to_number(v, int),
    bool: _to_bool,
    list: _to_list,
    dict: _to_dict,
}


def convert_value(value: Any, target: type) -> Any:
    """Convert ``value`` to ``target`` (str, int, float, bool, list or dict) the lenient AutoGPT way.

    Other target types return the value unchanged. Raises ``ConversionError`` when even the
    lenient rules fail (e.g. an int too large for a float).
    """
    converter = _CONVERTERS.get(target)
    if converter is None:
        return value
    try:
        return converter(value)
    except Exception as exc:
        raise ConversionError(f"cannot convert {value!r} to {target.__name__}: {exc}") from exc


class StoreValueBlock(Block):
    """A constant in the graph: re-emits ``data`` (or the trigger ``input``) on every run.

    Static output, so downstream nodes may reuse the value as often as they like.
    """

    id = "1ff065e9-88e8-4358-9d82-8dc91f622ba9"
    description = "Forwards an input value as output, so it can be reused unchanged."
    categories = frozenset({BlockCategory.BASIC})
    static_output = True

    class Input(BlockSchemaInput):
        input: Any = SchemaField(
            description="Triggers the block; its value is forwarded only when `data` is empty.")
        data: Any = SchemaField(default=None, description="The constant to emit as `output`.")

    class Output(BlockSchemaOutput):
        output: Any = SchemaField(description="The stored value.")

    test_input = [
        {"input": "Hello, World!"},
        {"input": "Hello, World!", "data": "Existing Data"},
        {"input": {"k": [1, 2]}, "data": ""},
    ]
    test_output = [
        ("output", "Hello, World!"),
        ("output", "Existing Data"),
        ("output", {"k": [1, 2]}),  # falsy data falls back to input (AutoGPT's `data or input`)
    ]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        yield "output", input_data.data or input_data.input


class PrintToConsoleBlock(Block):
    """Debug aid that logs its input; disabled upstream (sensitive), kept for old graphs' schemas."""

    id = "f3b1c1b2-4c4f-4f0d-8d2f-4c4f0d8d2f4c"
    description = "Prints the given text to the console (debugging aid)."
    categories = frozenset({BlockCategory.BASIC})
    disabled = True

    class Input(BlockSchemaInput):
        text: Any = SchemaField(description="The data to print.")

    class Output(BlockSchemaOutput):
        output: Any = SchemaField(description="The data that was printed.")
        status: str = SchemaField(description="The status of the print operation.")

    test_input = {"text": "Hello, World!"}
    test_output = [("output", "Hello, World!"), ("status", "printed")]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        logger.info("PrintToConsoleBlock[%s]: %r", ctx.node_exec_id, input_data.text)
        yield "output", input_data.text
        yield "status", "printed"


class NoteBlock(Block):
    """A sticky note on the canvas. NOTE-typed, so the executor never runs it."""

    id = "cc10ff7b-7753-4ff2-9af6-9399b1a7eddc"
    description = "Displays a sticky note with the given text."
    categories = frozenset({BlockCategory.BASIC})
    block_type = BlockType.NOTE

    class Input(BlockSchemaInput):
        text: str = SchemaField(description="The text shown in the note.")

    class Output(BlockSchemaOutput):
        output: str = SchemaField(description="The text shown in the note.")

    test_input = {"text": "Hello, World!"}
    test_output = [("output", "Hello, World!")]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        yield "output", input_data.text


class TypeOptions(str, enum.Enum):
    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    LIST = "list"
    DICTIONARY = "dictionary"


_TYPE_TARGETS = {
    TypeOptions.STRING: str,
    TypeOptions.NUMBER: float,
    TypeOptions.BOOLEAN: bool,
    TypeOptions.LIST: list,
    TypeOptions.DICTIONARY: dict,
}


class UniversalTypeConverterBlock(Block):
    """Explicit conversion between JSON shapes, for wiring pins whose types do not line up."""

    id = "95d1b990-ce13-4d88-9737-ba5c2070c97b"
    description = "Converts a value to a string, number, boolean, list or dictionary."
    categories = frozenset({BlockCategory.BASIC})

    class Input(BlockSchemaInput):
        value: Any = SchemaField(description="The value to convert.")
        type: TypeOptions = SchemaField(description="The type to convert the value to.")

    class Output(BlockSchemaOutput):
        value: Any = SchemaField(description="The converted value.")

    test_input = [
        {"value": "42", "type": "number"},
        {"value": [1, 2], "type": "string"},
        {"value": "true", "type": "boolean"},
        {"value": "hello", "type": "list"},
        {"value": '{"a": 1}', "type": "dictionary"},
        {"value": 10**400, "type": "number"},
    ]
    test_output = [
        ("value", 42.0),
        ("value", "[1, 2]"),
        ("value", True),
        ("value", ["hello"]),
        ("value", {"a": 1}),
        ("error", lambda msg: isinstance(msg, str) and msg.startswith("Failed to convert value")),
    ]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        try:
            converted = convert_value(input_data.value, _TYPE_TARGETS[TypeOptions(input_data.type)])
        except ConversionError as exc:
            yield "error", f"Failed to convert value: {exc}"
            return
        yield "value", converted


class ReverseListOrderBlock(Block):
    """Returns a reversed copy of a list; the input list is left untouched."""

    id = "422cb708-3109-4277-bfe3-bc2ae5812777"
    description = "Reverses the order of the elements in a list."
    categories = frozenset({BlockCategory.BASIC})

    class Input(BlockSchemaInput):
        input_list: list[Any] = SchemaField(description="The list to reverse.")

    class Output(BlockSchemaOutput):
        reversed_list: list[Any] = SchemaField(description="The list in reversed order.")

    test_input = [{"input_list": [1, 2, 3, 4, 5]}, {"input_list": []}]
    test_output = [("reversed_list", [5, 4, 3, 2, 1]), ("reversed_list", [])]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        yield "reversed_list", list(reversed(input_data.input_list))
