"""Text blocks (AutoGPT ids): regex matching and extraction, templating, joining, splitting, counting.

Regex patterns come from graph authors, and a pattern with catastrophic backtracking can spin for
hours on a short input. Matching therefore never runs on the event loop and always has a time
limit: the ``regex`` package's own ``timeout`` when it is installed, otherwise stdlib ``re`` in a
child process that is killed when the limit passes (a thread would not do: ``re`` holds the GIL
while matching, so a runaway match would stall the whole executor).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import re
import time
from collections.abc import AsyncIterator
from typing import Any

from jinja2 import TemplateError

from services.blocks.bounds import too_many_chars
from services.blocks.formatting import render_template
from services.blocks.sandbox.limits import replaced_size
from services.domain.blocks.base import (
    Block,
    BlockCategory,
    BlockSchemaInput,
    BlockSchemaOutput,
    RunContext,
    SchemaField,
)

try:
    import regex as _regex
except ImportError:  # pragma: no cover - exercised by forcing the fallback in tests
    _regex = None

REGEX_TIMEOUT_SECONDS = 5.0


def _pattern_errors() -> tuple[type[Exception], ...]:
    """What a bad pattern raises: ``re``'s error, and ``regex``'s where that engine is in use."""
    return (re.error,) if _regex is None else (re.error, _regex.error)


class PatternError(ValueError):
    """The pattern is invalid or did not finish in time; the message says which."""


class RegexTimeout(PatternError):
    """The pattern did not finish within the time limit."""


def _collect(matches: Any, group: int, first_only: bool, deadline: float) -> list[Any]:
    """``match.group(group)`` of each match that has that group; stop after one if ``first_only``."""
    found = []
    for match in matches:
        if 0 <= group <= len(match.groups()):
            found.append(match.group(group))
        if first_only:
            break
        if time.monotonic() > deadline:  # the engine's limit may apply per match; this one is overall
            raise RegexTimeout("pattern timed out")
    return found


def _scan_with_regex(pattern: str, text: str, flags: int, group: int, first_only: bool,
                     timeout: float) -> list[Any]:
    try:
        matches = _regex.compile(pattern, flags).finditer(text, timeout=timeout)
        return _collect(matches, group, first_only, time.monotonic() + timeout)
    except TimeoutError:
        raise RegexTimeout("pattern timed out") from None


def _child_scan(conn: Any, pattern: str, text: str, flags: int, group: int, first_only: bool) -> None:
    try:
        conn.send(("ok", _collect(re.finditer(pattern, text, flags), group, first_only, float("inf"))))
    except Exception as exc:  # noqa: BLE001 - sent back; the parent raises it as a pattern error
        conn.send(("error", str(exc)))
    finally:
        conn.close()


def _scan_in_child(pattern: str, text: str, flags: int, group: int, first_only: bool,
                   timeout: float) -> list[Any]:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe(duplex=False)
    proc = context.Process(target=_child_scan, args=(child, pattern, text, flags, group, first_only),
                           daemon=True)
    proc.start()
    child.close()
    try:
        if not parent.poll(timeout + 2.0):  # + the cost of spawning the interpreter
            raise RegexTimeout("pattern timed out")
        status, payload = parent.recv()
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(1.0)
        parent.close()
    if status == "error":
        raise re.error(payload)
    return payload


async def scan_pattern(pattern: str, text: str, *, ignore_case: bool = False, dot_all: bool = False,
                       group: int = 0, first_only: bool = False,
                       timeout: float | None = None) -> list[Any]:
    """Return ``match.group(group)`` for the pattern's matches in ``text`` (only the first when
    ``first_only``), skipping matches that have no such group. Raises ``RegexTimeout`` past the
    time limit and ``PatternError`` for an invalid pattern."""
    limit = REGEX_TIMEOUT_SECONDS if timeout is None else timeout
    flags = (re.IGNORECASE if ignore_case else 0) | (re.DOTALL if dot_all else 0)  # same bits in `regex`
    try:
        if _regex is not None:
            return await asyncio.to_thread(_scan_with_regex, pattern, text, flags, group, first_only, limit)
        re.compile(pattern, flags)  # report a bad pattern without spawning a process
        return await asyncio.to_thread(_scan_in_child, pattern, text, flags, group, first_only, limit)
    except RegexTimeout:
        raise RegexTimeout(f"pattern timed out after {limit:g} seconds") from None
    except _pattern_errors() as exc:
        raise PatternError(f"invalid pattern {pattern!r}: {exc}") from None


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


class MatchTextPatternBlock(Block):
    """Routes ``data`` (or the text itself) to ``positive``/``negative`` by a regex search."""

    id = "3060088f-6ed9-4928-9ba7-9c92823a7ccd"
    description = "Matches text against a regex pattern and forwards data to the positive or negative output."
    categories = frozenset({BlockCategory.TEXT})

    class Input(BlockSchemaInput):
        text: Any = SchemaField(description="Text to match; other values are matched as JSON.")
        match: str = SchemaField(description="Pattern (regex) to search for.")
        data: Any = SchemaField(description="Data to forward to the output.")
        case_sensitive: bool = SchemaField(default=True, description="Case sensitive match.")
        dot_all: bool = SchemaField(default=True, description="Dot matches all characters, newlines too.")

    class Output(BlockSchemaOutput):
        positive: Any = SchemaField(description="The data, when the pattern matches.")
        negative: Any = SchemaField(description="The data, when the pattern does not match.")

    test_input = [
        {"text": "ABC", "match": "ab", "data": "X", "case_sensitive": False},
        {"text": "ABC", "match": "ab", "data": "Y", "case_sensitive": True},
        {"text": "Hello World!", "match": ".orld.+", "data": "Z"},
        {"text": "Hello World!", "match": "World![a-z]+", "data": "Z"},
        {"text": {"status": "ok"}, "match": '"status": "ok"', "data": ""},
    ]
    test_output = [("positive", "X"), ("negative", "Y"), ("positive", "Z"), ("negative", "Z"),
                   ("positive", {"status": "ok"})]  # the last: empty data falls back to the text

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        forward = input_data.data or input_data.text
        try:
            found = await scan_pattern(input_data.match, _as_text(input_data.text),
                                       ignore_case=not input_data.case_sensitive,
                                       dot_all=input_data.dot_all, first_only=True)
        except PatternError as exc:
            yield "error", str(exc)
            return
        yield ("positive" if found else "negative"), forward


class ExtractTextInformationBlock(Block):
    """Extracts one regex group from the first match (or every match with ``find_all``)."""

    id = "3146e4fe-2cdd-4f29-bd12-0c9d5bb4deb0"
    description = "Extracts text from the given text using a regex pattern."
    categories = frozenset({BlockCategory.TEXT})

    class Input(BlockSchemaInput):
        text: Any = SchemaField(description="Text to parse; other values are parsed as JSON.")
        pattern: str = SchemaField(description="Pattern (regex) to parse with.")
        group: int = SchemaField(default=0, description="Group number to extract.")
        case_sensitive: bool = SchemaField(default=True, description="Case sensitive match.")
        dot_all: bool = SchemaField(default=True, description="Dot matches all characters, newlines too.")
        find_all: bool = SchemaField(default=False, description="Extract every match, not just the first.")

    class Output(BlockSchemaOutput):
        positive: str = SchemaField(description="Extracted text, once per match.")
        negative: str = SchemaField(description="The original text, when nothing matched.")
        matched_results: list[str] = SchemaField(description="All extracted texts.")
        matched_count: int = SchemaField(description="Number of extracted texts.")

    test_input = [
        {"text": "Hello, World!", "pattern": "Hello, (.+)", "group": 1},
        {"text": "Hello, World!", "pattern": "Hello, (.+)", "group": 0},
        {"text": "Hello, World!", "pattern": "Hello, (.+)", "group": 2},
        {"text": "Hello, World!", "pattern": "hello,", "case_sensitive": False},
        {"text": "Hello, World!! Hello, Earth!!", "pattern": "Hello, (\\S+)", "group": 1, "find_all": False},
        {"text": "Hello, World!! Hello, Earth!!", "pattern": "Hello, (\\S+)", "group": 1, "find_all": True},
    ]
    test_output = [
        ("positive", "World!"), ("matched_results", ["World!"]), ("matched_count", 1),
        ("positive", "Hello, World!"), ("matched_results", ["Hello, World!"]), ("matched_count", 1),
        ("negative", "Hello, World!"), ("matched_results", []), ("matched_count", 0),
        ("positive", "Hello,"), ("matched_results", ["Hello,"]), ("matched_count", 1),
        ("positive", "World!!"), ("matched_results", ["World!!"]), ("matched_count", 1),
        ("positive", "World!!"), ("positive", "Earth!!"),
        ("matched_results", ["World!!", "Earth!!"]), ("matched_count", 2),
    ]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        try:
            matches = await scan_pattern(input_data.pattern, _as_text(input_data.text),
                                         ignore_case=not input_data.case_sensitive,
                                         dot_all=input_data.dot_all, group=input_data.group,
                                         first_only=not input_data.find_all)
        except PatternError as exc:
            yield "error", str(exc)
            return
        for found in matches:
            yield "positive", found
        if not matches:
            yield "negative", input_data.text
        yield "matched_results", matches
        yield "matched_count", len(matches)


class FillTextTemplateBlock(Block):
    """Renders a Jinja2 template with ``values`` in the sandbox; unknown names render empty."""

    id = "db7d8f02-2f44-4c55-ab7a-eae0941f0c30"
    description = "Formats text from a Jinja2 template and a dictionary of values."
    categories = frozenset({BlockCategory.TEXT})

    class Input(BlockSchemaInput):
        values: dict[str, Any] = SchemaField(
            description="Values for the template, referenced in double curly braces, e.g. {{value_name}}.")
        format: str = SchemaField(description="Template for the text, in Jinja2 syntax.")
        escape_html: bool = SchemaField(default=False, description="Escape HTML in the inserted values.")

    class Output(BlockSchemaOutput):
        output: str = SchemaField(description="Formatted text.")

    test_input = [
        {"values": {"name": "Alice", "hello": "Hello", "world": "World!"}, "format": "{{hello}}, {{ world }} {{name}}"},
        {"values": {"list": ["Hello", " World!"]}, "format": "{% for item in list %}{{ item }}{% endfor %}"},
        {"values": {}, "format": "{% set name = 'Alice' %}Hello, World! {{ name }}"},
        {"values": {"a": "x"}, "format": "[{{ a }}|{{ missing }}]"},
        {"values": {"tag": "<b>"}, "format": "{{ tag }}", "escape_html": True},
    ]
    test_output = [("output", "Hello, World! Alice"), ("output", "Hello World!"), ("output", "Hello, World! Alice"),
                   ("output", "[x|]"), ("output", "&lt;b&gt;")]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        try:
            rendered = await render_template(ctx, input_data.format, input_data.values,
                                             escape_html=input_data.escape_html)
        except (TemplateError, ValueError) as exc:
            yield "error", f"template could not be rendered: {exc}"
            return
        yield "output", rendered


class CombineTextsBlock(Block):
    """Joins a list of texts with a delimiter (none by default)."""

    id = "e30a4d42-7b7d-4e6a-b36e-1f9b8e3b7d85"
    description = "Combines several texts into one."
    categories = frozenset({BlockCategory.TEXT})

    class Input(BlockSchemaInput):
        input: list[str] = SchemaField(description="The texts to combine.")
        delimiter: str = SchemaField(default="", description="Placed between the texts.")

    class Output(BlockSchemaOutput):
        output: str = SchemaField(description="The combined text.")

    test_input = [
        {"input": ["Hello world I like ", "cake and to go for walks"]},
        {"input": ["This is a test", "Hi!"], "delimiter": "! "},
    ]
    test_output = [("output", "Hello world I like cake and to go for walks"), ("output", "This is a test! Hi!")]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        texts, delimiter = input_data.input, input_data.delimiter
        refused = too_many_chars(sum(map(len, texts)) + len(delimiter) * max(len(texts) - 1, 0), "the combined text")
        if refused:
            yield "error", refused
            return
        yield "output", delimiter.join(texts)


class TextSplitBlock(Block):
    """Splits text on a delimiter, stripping the parts by default; empty text gives no parts."""

    id = "d5ea33c8-a575-477a-b42f-2fe3be5055ec"
    description = "Splits a text into a list of strings."
    categories = frozenset({BlockCategory.TEXT})

    class Input(BlockSchemaInput):
        text: str = SchemaField(description="The text to split.")
        delimiter: str = SchemaField(description="The delimiter to split the text by.")
        strip: bool = SchemaField(default=True, description="Strip whitespace around each part.")

    class Output(BlockSchemaOutput):
        texts: list[str] = SchemaField(description="The parts of the text.")

    test_input = [
        {"text": "Hello, World!", "delimiter": ","},
        {"text": "Hello, World!", "delimiter": ",", "strip": False},
        {"text": "", "delimiter": ","},
    ]
    test_output = [("texts", ["Hello", "World!"]), ("texts", ["Hello", " World!"]), ("texts", [])]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        if not input_data.text:
            yield "texts", []
            return
        if not input_data.delimiter:
            yield "error", "delimiter must not be empty"
            return
        parts = input_data.text.split(input_data.delimiter)
        yield "texts", [p.strip() for p in parts] if input_data.strip else parts


class TextReplaceBlock(Block):
    """Replaces every occurrence of ``old`` in ``text`` with ``new``."""

    id = "7e7c87ab-3469-4bcc-9abe-67705091b713"
    description = "Replaces occurrences of a text with a new text."
    categories = frozenset({BlockCategory.TEXT})

    class Input(BlockSchemaInput):
        text: str = SchemaField(description="The text to change.")
        old: str = SchemaField(description="The text to replace.")
        new: str = SchemaField(description="The replacement text.")

    class Output(BlockSchemaOutput):
        output: str = SchemaField(description="The text after replacement.")

    test_input = [{"text": "Hello, World!", "old": "Hello", "new": "Hi"}, {"text": "a-b-c", "old": "-", "new": ""}]
    test_output = [("output", "Hi, World!"), ("output", "abc")]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        text, old, new = input_data.text, input_data.old, input_data.new
        refused = too_many_chars(replaced_size(text, old, new), "the replaced text")
        if refused:  # old="" inserts `new` between every character: refuse before building it
            yield "error", refused
            return
        yield "output", text.replace(old, new)


class WordCharacterCountBlock(Block):
    """Counts whitespace-separated words and characters (upstream file: count_words_and_char_block.py)."""

    id = "ab2a782d-22cf-4587-8a70-55b59b3f9f90"
    description = "Counts the words and characters in a text."
    categories = frozenset({BlockCategory.TEXT})

    class Input(BlockSchemaInput):
        text: str = SchemaField(description="The text to count in.", placeholder="Enter your text here")

    class Output(BlockSchemaOutput):
        word_count: int = SchemaField(description="Number of words in the text.")
        character_count: int = SchemaField(description="Number of characters in the text.")

    test_input = [{"text": "Hello, how are you?"}, {"text": "  spaced\n\tout  "}]
    test_output = [("word_count", 4), ("character_count", 19), ("word_count", 2), ("character_count", 15)]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        yield "word_count", len(input_data.text.split())
        yield "character_count", len(input_data.text)
