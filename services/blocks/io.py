"""Graph input and output blocks (AutoGPT ids): how values enter and leave a graph.

Input blocks yield ``result`` only when they hold a value; the executor puts the run's input for
``name`` into ``value``. Output blocks are where graph outputs are collected from (their resolved
*input*, name -> value), while their ``output`` pin carries the optionally formatted value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

from services.blocks.formatting import render_template
from services.domain.blocks.base import (
    Block,
    BlockCategory,
    BlockSchemaInput,
    BlockSchemaOutput,
    BlockType,
    RunContext,
    SchemaField,
)


class AgentInputBlock(Block):
    id = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
    description = "Base block for user inputs."
    categories = frozenset({BlockCategory.INPUT, BlockCategory.BASIC})
    block_type = BlockType.INPUT
    static_output = True

    class Input(BlockSchemaInput):
        name: str = SchemaField(description="The name of the input.")
        value: Any = SchemaField(default=None, description="The value to be passed as input.", advanced=False)
        title: str | None = SchemaField(default=None, description="The title of the input.", advanced=True)
        description: str | None = SchemaField(default=None, description="The description of the input.", advanced=True)
        placeholder_values: list = SchemaField(default_factory=list,
                                               description="The placeholder values to be passed as input.",
                                               advanced=True, hidden=True)
        advanced: bool = SchemaField(default=False, description="Whether to show the input in the advanced section.",
                                     advanced=True)
        secret: bool = SchemaField(default=False, description="Whether the input should be treated as a secret.",
                                   advanced=True)

    class Output(BlockSchemaOutput):
        result: Any = SchemaField(description="The value passed as input.")

    test_input = [{"value": "Hello, World!", "name": "input_1"}, {"value": "Hello, World!", "name": "input_2"}]
    test_output = [("result", "Hello, World!"), ("result", "Hello, World!")]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        if input_data.value is not None:
            yield "result", input_data.value


def _input_variant(name: str, block_id: str, value_type: Any, description: str, *, default: Any = None,
                   fmt: str | None = None, test_value: Any = "x",
                   extra_fields: dict[str, Any] | None = None) -> type[Block]:
    """Build one of AgentInputBlock's typed variants: same behaviour, a typed ``value`` pin."""
    annotations = {"value": value_type | None}
    namespace: dict[str, Any] = {
        "__annotations__": annotations,
        "value": SchemaField(default=default, description="The value to be passed as input.", advanced=False,
                             json_schema_extra={"format": fmt} if fmt else None),
    }
    for field_name, (field_type, field_default) in (extra_fields or {}).items():
        annotations[field_name] = field_type
        namespace[field_name] = SchemaField(default=field_default, advanced=True)
    input_model = type("Input", (AgentInputBlock.Input,), namespace)
    return type(name, (AgentInputBlock,), {
        "id": block_id,
        "description": description,
        "Input": input_model,
        "test_input": [{"name": "in", "value": test_value}],
        "test_output": [("result", test_value)],
        "__module__": __name__,
    })


AgentShortTextInputBlock = _input_variant(
    "AgentShortTextInputBlock", "7fcd3bcb-8e1b-4e69-903d-32d3d4a92158", str,
    "Block for short text input (single-line).", fmt="short-text")
AgentLongTextInputBlock = _input_variant(
    "AgentLongTextInputBlock", "90a56ffb-7024-4b2b-ab50-e26c5e5ab8ba", str,
    "Block for long text input (multi-line).", fmt="long-text")
AgentNumberInputBlock = _input_variant(
    "AgentNumberInputBlock", "96dae2bb-97a2-41c2-bd2f-13a3b5a8ea98", int, "Block for number input.", test_value=42)
AgentDateInputBlock = _input_variant(
    "AgentDateInputBlock", "7e198b09-4994-47db-8b4d-952d98241817", dt.date, "Block for date input.", fmt="date",
    test_value=dt.date(2025, 1, 31))
AgentTimeInputBlock = _input_variant(
    "AgentTimeInputBlock", "2a1c757e-86cf-4c7e-aacf-060dc382e434", dt.time, "Block for time input.", fmt="time",
    test_value=dt.time(12, 30))
AgentFileInputBlock = _input_variant(
    "AgentFileInputBlock", "95ead23f-8283-4654-aef3-10c053b74a31", str,
    "Block for file upload input (string path or data URI).",
    fmt="file", test_value="data:text/plain;base64,aGk=", extra_fields={"base_64": (bool, False)})
AgentDropdownInputBlock = _input_variant(
    "AgentDropdownInputBlock", "655d6fdf-a334-421c-b733-520549c07cd1", str,
    "Block for dropdown text selection.", test_value="Option A")
AgentToggleInputBlock = _input_variant(
    "AgentToggleInputBlock", "cbf36ab5-df4a-43b6-8a7f-f7ed8652116e", bool,
    "Block for boolean toggle input.", default=False,
    test_value=True)
AgentTableInputBlock = _input_variant(
    "AgentTableInputBlock", "5603b273-f41e-4020-af7d-fbc9c6a8d928", list[dict[str, Any]],
    "Block for table data input with customizable headers.",
    test_value=[{"Name": "Ada", "Age": "36"}],
    extra_fields={"column_headers": (list[str], ["Column 1", "Column 2", "Column 3"])})
AgentGoogleDriveFileInputBlock = _input_variant(
    "AgentGoogleDriveFileInputBlock", "d3b32f15-6fd7-40e3-be52-e083f51b19a2", dict[str, Any],
    "Block for selecting a file from Google Drive.",
    test_value={"id": "abc", "name": "doc"})


class AgentOutputBlock(Block):
    id = "363ae599-353e-4804-937e-b2ee3cef3da4"
    description = "Stores the output of the graph for users to see."
    categories = frozenset({BlockCategory.OUTPUT, BlockCategory.BASIC})
    block_type = BlockType.OUTPUT
    static_output = True

    class Input(BlockSchemaInput):
        value: Any = SchemaField(default=None, description="The value to be recorded as output.", advanced=False)
        name: str = SchemaField(description="The name of the output.")
        title: str | None = SchemaField(default=None, description="The title of the output.", advanced=True)
        description: str | None = SchemaField(default=None, description="The description of the output.", advanced=True)
        format: str = SchemaField(default="", description="The format string to be used to format the recorded_value. "
                                                          "Use Jinja2 syntax.", advanced=True)
        escape_html: bool = SchemaField(default=False,
                                        description="Whether to escape special characters in the inserted values.",
                                        advanced=True)
        advanced: bool = SchemaField(default=False, description="Whether to treat the output as advanced.",
                                     advanced=True)
        secret: bool = SchemaField(default=False, description="Whether the output should be treated as a secret.",
                                   advanced=True)

    class Output(BlockSchemaOutput):
        output: Any = SchemaField(description="The value recorded as output.")
        name: Any = SchemaField(description="The name of the value recorded as output.")

    test_input = [
        {"value": "Hello, World!", "name": "output_1", "description": "This is a test output."},
        {"value": 42, "name": "output_2"},
        {"value": "Hello, World!", "name": "output_3", "format": "{{ output_3 }}!!"},
    ]
    test_output = [
        ("output", "Hello, World!"), ("name", "output_1"),
        ("output", 42), ("name", "output_2"),
        ("output", "Hello, World!!!"),
    ]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        if input_data.format:
            try:
                rendered = await render_template(ctx, input_data.format, {input_data.name: input_data.value},
                                                 escape_html=input_data.escape_html)
            except Exception as exc:  # noqa: BLE001 - a bad template is reported in the output, as AutoGPT does
                yield "output", f"Error: {exc}, {input_data.value}"
            else:
                yield "output", rendered
        else:
            yield "output", input_data.value
            yield "name", input_data.name
