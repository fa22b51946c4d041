"""What every REST command of the CLI shares: ``--url``/``--token``/``--json``, ``NAME=VALUE``
options, the consoles, and the formatting of values, times and tables.

A command decorated with :func:`rest` receives the resolved :class:`Api` and an :class:`Out`; an
:class:`ApiError` (or a ``ValueError`` about the caller's input) it raises is printed as
``agentloom: <status> <detail>`` on stderr and the command exits 1."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from datetime import datetime
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from services.cli.api_client import Api, ApiError

TERMINAL = frozenset({"COMPLETED", "FAILED", "TERMINATED"})
STATUS_STYLE = {"COMPLETED": "green", "FAILED": "red", "TERMINATED": "red", "RUNNING": "cyan", "QUEUED": "blue",
                "REVIEW": "yellow", "INCOMPLETE": "dim"}
WIDE_WHEN_PIPED = 250  # columns when stdout is not a terminal (a pipe, a file): ids (36 characters) stay whole


def console(*, stderr: bool = False) -> Console:
    """A console on the current stdout (or stderr). Markup is off: graph data (``[1, 2]``) prints as it is."""
    out = Console(stderr=stderr, markup=False, emoji=False, highlight=False)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = WIDE_WHEN_PIPED
    return out


class Out:
    """Where a command prints: ``--json`` prints the API's answer; otherwise the summary or tables."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.console = console()

    def json(self, answer: Any) -> None:
        click.echo(json.dumps(answer, indent=2, default=str))

    def emit(self, answer: Any, *renderables: Any) -> None:
        """``--json``: the answer; else each renderable (a line of text or a rich table)."""
        if self.as_json:
            self.json(answer)
            return
        for item in renderables:
            self.console.print(item, soft_wrap=isinstance(item, str))


def rest(func: Callable[..., int | None]) -> Callable[..., int]:
    """Give a command ``--url``, ``--token`` and ``--json``; call it with ``(api, out, **params)``."""

    @functools.wraps(func)
    def command(url: str | None, token: str | None, as_json: bool, **params: Any) -> int:
        try:
            return func(Api.resolve(url, token), Out(as_json), **params) or 0
        except (ApiError, ValueError) as exc:
            click.echo(f"agentloom: {exc}", err=True)
            return 1

    common = [
        click.Option(["--url"], help="The API (default: AGENTLOOM_URL, your login, or the local stack)."),
        click.Option(["--token"], help="A bearer token (default: AGENTLOOM_TOKEN or your login)."),
        click.Option(["--json", "as_json"], is_flag=True, help="Print the API's answer as JSON."),
    ]
    # click lists ``__click_params__`` in reverse: at the front of the list, they come last in --help
    command.__click_params__ = [*reversed(common), *getattr(func, "__click_params__", [])]
    return command


def parse_pair(item: str, form: str = "NAME=VALUE") -> tuple[str, Any]:
    """``name=value``: the value as JSON when it parses (``3``, ``true``, ``[1]``), else the plain string."""
    name, sep, value = item.partition("=")
    if not sep or not name:
        raise ValueError(f"expected {form}, got {item!r}")
    try:
        return name, json.loads(value)
    except ValueError:
        return name, value  # a bare word is a string


class KeyValue(click.ParamType):
    """``--input name=value`` (repeatable): a malformed one is a usage error (exit 2)."""

    name = "NAME=VALUE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[str, Any]:
        if isinstance(value, tuple):
            return value
        try:
            return parse_pair(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def pairs(items: tuple[tuple[str, Any], ...] | list[tuple[str, Any]]) -> dict[str, Any]:
    return dict(items)


# ---------------------------------------------------------------------------------------------- formatting

def show(value: Any, limit: int | None = None) -> str:
    """A value as a person reads it: strings as they are, anything else as compact JSON."""
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    if limit is not None and len(text) > limit:
        return text[: limit - 1] + "…"
    return text


def when(value: Any) -> str:
    """An ISO time as ``YYYY-MM-DD HH:MM:SS`` (the API's times are UTC)."""
    moment = _parse_time(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def duration(start: Any, end: Any) -> str:
    began, ended = _parse_time(start), _parse_time(end)
    if began is None or ended is None:
        return ""
    return seconds((ended - began).total_seconds())


def seconds(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.2f}s" if value < 60 else f"{int(value // 60)}m{value % 60:04.1f}s"


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def status_style(status: Any) -> str:
    return STATUS_STYLE.get(str(status), "")


def table(*columns: str, title: str | None = None) -> Table:
    """A table whose cells fold rather than cut (ids and values stay whole)."""
    grid = Table(title=title, title_justify="left", show_edge=False, header_style="bold")
    for name in columns:
        grid.add_column(name, overflow="fold")
    return grid


def outputs_table(outputs: dict[str, list[Any]] | None) -> Table | str:
    """A run's outputs, one row per value (an output may have several)."""
    if not outputs:
        return "no outputs"
    grid = table("output", "value", title="outputs")
    for name, values in outputs.items():
        for value in values if isinstance(values, list) else [values]:
            grid.add_row(name, show(value))
    return grid


def run_cost(run: dict[str, Any]) -> str:
    stats = run.get("stats") or {}
    return str(stats.get("cost", "")) if isinstance(stats, dict) else ""


def block_names(api: Api, block_ids: set[str]) -> dict[str, str]:
    """Block id -> its name (``GET /api/blocks/{id}``), for the ones the API names; a block it does not
    (an older server, a disabled block) keeps its id."""
    names: dict[str, str] = {}
    for block_id in sorted(block_ids):
        try:
            block = api.call("GET", f"/api/blocks/{block_id}")
        except ApiError:
            continue
        if isinstance(block, dict) and isinstance(block.get("name"), str):
            names[block_id] = block["name"]
    return names


def node_labels(api: Api, nodes: list[dict[str, Any]]) -> dict[str, str]:
    """Graph node id -> what a person recognises: its block's name, and the pin name of an input or
    output node (``AgentInputBlock a``)."""
    names = block_names(api, {n["block_id"] for n in nodes if n.get("block_id")})
    labels = {}
    for node in nodes:
        label = names.get(node.get("block_id", ""), node.get("block_id", ""))
        pin = (node.get("input_default") or {}).get("name")
        labels[node["id"]] = f"{label} {pin}" if isinstance(pin, str) and pin else label
    return labels
