"""ReadSpreadsheetBlock (formerly ReadCsvBlock, same id): turn delimited text into row records.

Rows come out as dicts keyed by the header cell (or by the column index as a string when there is
no header), either all at once on ``rows`` or one at a time on ``row`` so a graph can fan out per
row. ``file_input`` is accepted only as a ``data:`` URI holding text: this service has no file
store for blocks to read from, and fetching arbitrary paths or URLs here would be a way around the
HTTP block's network policy. Excel workbooks are not supported.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import urllib.parse
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

MAX_CONTENT_CHARS = 10 * 1024 * 1024
MAX_ROWS = 100_000


def decode_data_uri(uri: str) -> str:
    """The text inside a ``data:`` URI (base64 or percent-encoded); ValueError for anything else."""
    if not uri.startswith("data:") or "," not in uri:
        raise ValueError("file_input must be a data: URI (files and URLs are not read by this block)")
    meta, payload = uri[5:].split(",", 1)
    params = meta.split(";")
    if params[0] in ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "application/vnd.ms-excel"):
        raise ValueError("Excel files are not supported; provide CSV text")
    charset = next((p.split("=", 1)[1] for p in params[1:] if p.lower().startswith("charset=")), "utf-8")
    try:
        raw = (base64.b64decode(payload, validate=True) if "base64" in params[1:]
               else urllib.parse.unquote_to_bytes(payload))
        return raw.decode(charset)
    except (binascii.Error, LookupError, UnicodeDecodeError) as exc:
        raise ValueError(f"could not decode file_input: {exc}") from None


def parse_rows(
    text: str,
    *,
    delimiter: str = ",",
    quotechar: str = '"',
    escapechar: str = "\\",
    has_header: bool = True,
    skip_rows: int = 0,
    strip: bool = True,
    skip_columns: list[str] | None = None,
) -> list[dict[str, str]]:
    """Parse CSV text into row dicts.

    ``skip_rows`` counts data rows after the header. ``skip_columns`` may name header cells or
    column indexes (as strings). Cells beyond the header's width are keyed by their index.
    """
    quoting = csv.QUOTE_MINIMAL if quotechar else csv.QUOTE_NONE
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, quotechar=quotechar or None,
                        escapechar=escapechar or None, quoting=quoting)
    clean = (lambda s: s.strip()) if strip else (lambda s: s)
    header: list[str] = []
    if has_header:
        header = [clean(h) for h in next(reader, [])]
    for _ in range(max(skip_rows, 0)):
        if next(reader, None) is None:
            break
    skipped = set(skip_columns or [])
    rows: list[dict[str, str]] = []
    for cells in reader:
        if len(rows) >= MAX_ROWS:
            raise ValueError(f"more than {MAX_ROWS} rows")
        row: dict[str, str] = {}
        for i, cell in enumerate(cells):
            name = header[i] if i < len(header) else str(i)
            if name in skipped or str(i) in skipped:
                continue
            row[name] = clean(cell)
        rows.append(row)
    return rows


class ReadSpreadsheetBlock(Block):
    id = "acf7625e-d2cb-4941-bfeb-2819fc6fc015"
    description = "Reads CSV text into rows, each a dictionary keyed by the header cells."
    categories = frozenset({BlockCategory.TEXT, BlockCategory.DATA})

    class Input(BlockSchemaInput):
        contents: str | None = SchemaField(
            default=None, description="The CSV text to read.", placeholder="a, b, c\n1,2,3\n4,5,6", advanced=False)
        file_input: str | None = SchemaField(
            default=None, description="A CSV file as a data: URI; used instead of contents when given.",
            advanced=False, json_schema_extra={"format": "file"})
        delimiter: str = SchemaField(default=",", description="The column delimiter.")
        quotechar: str = SchemaField(default='"', description="The character that quotes cells.")
        escapechar: str = SchemaField(default="\\", description="The character that escapes the delimiter.")
        has_header: bool = SchemaField(default=True, description="Whether the first row holds the column names.")
        skip_rows: int = SchemaField(default=0, description="Number of data rows to skip after the header.")
        strip: bool = SchemaField(default=True, description="Whether to strip whitespace around cells.")
        skip_columns: list[str] = SchemaField(
            default_factory=list, description="Columns to leave out, by header name or index.")
        produce_singular_result: bool = SchemaField(
            default=False, description="Yield each row on its own (`row`) instead of all rows together (`rows`).")

    class Output(BlockSchemaOutput):
        row: dict[str, str] = SchemaField(description="One row, when producing singular results.")
        rows: list[dict[str, str]] = SchemaField(description="All rows.")

    test_input = [
        {"contents": "a, b, c\n1,2,3\n4,5,6", "produce_singular_result": True},
        {"contents": "a, b, c\n1,2,3\n4,5,6"},
        {"contents": "x;y\n1;2\n3;4\n5;6", "delimiter": ";", "skip_rows": 1, "skip_columns": ["y"]},
        {"file_input": "data:text/csv;base64,bmFtZQpBZGEK"},
    ]
    test_output = [
        ("row", {"a": "1", "b": "2", "c": "3"}),
        ("row", {"a": "4", "b": "5", "c": "6"}),
        ("rows", [{"a": "1", "b": "2", "c": "3"}, {"a": "4", "b": "5", "c": "6"}]),
        ("rows", [{"x": "3"}, {"x": "5"}]),
        ("rows", [{"name": "Ada"}]),
    ]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        try:
            if input_data.file_input:
                text = decode_data_uri(input_data.file_input)
            elif input_data.contents is not None:
                text = input_data.contents
            else:
                yield "error", "Either 'contents' or 'file_input' must be provided"
                return
            if len(text) > MAX_CONTENT_CHARS:
                yield "error", f"Spreadsheet text exceeds {MAX_CONTENT_CHARS} characters"
                return
            rows = parse_rows(
                text,
                delimiter=input_data.delimiter,
                quotechar=input_data.quotechar,
                escapechar=input_data.escapechar,
                has_header=input_data.has_header,
                skip_rows=input_data.skip_rows,
                strip=input_data.strip,
                skip_columns=input_data.skip_columns,
            )
        except (ValueError, csv.Error, TypeError) as exc:
            yield "error", f"Could not read spreadsheet: {exc}"
            return
        if input_data.produce_singular_result:
            for row in rows:
                yield "row", row
        else:
            yield "rows", rows
