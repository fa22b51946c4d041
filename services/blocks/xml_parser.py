"""XMLParserBlock: parse XML text into nested dictionaries, safely.

XML arrives from users and from the web, so parsing goes through ``defusedxml``: entity
declarations (billion laughs, quadratic blow-up) and external entities or DTD fetches (file reads,
SSRF) are refused with an ``error`` instead of being expanded. Input size and nesting depth are
capped as well, so one document cannot exhaust memory or the recursion limit.

Shape of the result (the common xmltodict convention): ``{root_tag: value}`` where a value is the
element's text (None when empty) if it has no children or attributes, otherwise a dict with
``@name`` keys for attributes, one key per child tag (a list when the tag repeats) and ``#text``
for any text. So ``<tag1><tag2>content</tag2></tag1>`` gives ``{"tag1": {"tag2": "content"}}``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as SafeET

from services.domain.blocks.base import (
    Block,
    BlockCategory,
    BlockSchemaInput,
    BlockSchemaOutput,
    RunContext,
    SchemaField,
)

MAX_XML_CHARS = 10 * 1024 * 1024
MAX_DEPTH = 200


def _element_to_value(elem: Element, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ValueError(f"XML nesting deeper than {MAX_DEPTH} levels")
    children = list(elem)
    text_parts = [elem.text or ""] + [child.tail or "" for child in children]
    text = "".join(text_parts).strip()
    if not children and not elem.attrib:
        return text or None
    result: dict[str, Any] = {f"@{name}": value for name, value in elem.attrib.items()}
    repeated: set[str] = set()  # tags already turned into lists (a child's own value may be a list)
    for child in children:
        value = _element_to_value(child, depth + 1)
        if child.tag in repeated:
            result[child.tag].append(value)
        elif child.tag in result:
            result[child.tag] = [result[child.tag], value]
            repeated.add(child.tag)
        else:
            result[child.tag] = value
    if text:
        result["#text"] = text
    return result


def parse_xml(text: str) -> dict[str, Any]:
    """Parse ``text`` into nested dicts. Raises ValueError for unsafe, oversized or malformed XML."""
    if len(text) > MAX_XML_CHARS:
        raise ValueError(f"XML input exceeds {MAX_XML_CHARS} characters")
    try:
        root = SafeET.fromstring(text, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException as exc:
        raise ValueError(f"XML refused for safety reasons ({type(exc).__name__})") from None
    except ParseError as exc:
        raise ValueError(f"Malformed XML: {exc}") from None
    return {root.tag: _element_to_value(root, 1)}


class XMLParserBlock(Block):
    id = "286380af-9529-4b55-8be0-1d7c854abdb5"
    description = "Parses XML text into a nested dictionary."
    categories = frozenset({BlockCategory.TEXT, BlockCategory.DATA})

    class Input(BlockSchemaInput):
        input_xml: str = SchemaField(description="The XML text to parse.")

    class Output(BlockSchemaOutput):
        parsed_xml: dict = SchemaField(description="The parsed XML as nested dictionaries.")

    test_input = [
        {"input_xml": "<tag1><tag2>content</tag2></tag1>"},
        {"input_xml": '<list kind="x"><item>1</item><item>2</item><empty/></list>'},
        {"input_xml": '<!DOCTYPE a [<!ENTITY e "boom">]><a>&e;</a>'},
    ]
    test_output = [
        ("parsed_xml", {"tag1": {"tag2": "content"}}),
        ("parsed_xml", {"list": {"@kind": "x", "item": ["1", "2"], "empty": None}}),
        ("error", lambda msg: "refused" in msg),
    ]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        try:
            parsed = parse_xml(input_data.input_xml)
        except ValueError as exc:
            yield "error", str(exc)
            return
        yield "parsed_xml", parsed
