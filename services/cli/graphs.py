"""``agentloom graphs import|list|export`` and ``agentloom run``: graphs in AutoGPT's JSON, and runs
followed live (``follow.py``), over the REST API of any agentloom."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import click

from services.cli.api_client import Api
from services.cli.common import KeyValue, Out, console, node_labels, outputs_table, rest, show, table
from services.cli.follow import Tracker, follow

INTERRUPTED = 130  # the shell's code for a command ended by Ctrl-C


@click.group(help="Your graphs (AutoGPT's graph JSON): import, list, export.")
def graphs() -> None:
    pass


@graphs.command("import", help="Create a graph from an AutoGPT graph JSON file (a bare graph or {\"graph\": …}; "
                               "FILE '-' reads stdin).")
@rest
@click.argument("file", type=click.File("r", encoding="utf-8"))
def import_graph(api: Api, out: Out, file) -> int:
    graph = read_graph(file.read(), getattr(file, "name", "-"))
    created = api.call("POST", "/api/graphs", json_body={"graph": graph})
    out.emit(created, f"imported {created['id']} v{created['version']} ({created.get('name') or 'unnamed'}), "
                      f"{len(created.get('nodes') or [])} nodes, {len(created.get('links') or [])} links")
    return 0


def read_graph(text: str, where: str) -> dict[str, Any]:
    """The graph in an export file: a bare graph, or AutoGPT's ``{"graph": …}`` request body."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{where} is not JSON ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("graph"), dict):
        data = data["graph"]
    if not isinstance(data, dict) or not isinstance(data.get("nodes", []), list):
        raise ValueError(f"{where} is not an AutoGPT graph (an object with nodes and links)")
    return data


@graphs.command("list", help="Your graphs (their active versions).")
@rest
def list_graphs(api: Api, out: Out) -> int:
    found = api.call("GET", "/api/graphs")
    grid = table("id", "version", "name", "description")
    for graph in found:
        grid.add_row(graph["id"], str(graph.get("version", "")), graph.get("name") or "",
                     show(graph.get("description") or "", 60))
    out.emit(found, grid if found else "no graphs")
    return 0


@graphs.command("export", help="A graph as AutoGPT's export JSON (secrets stripped), to stdout or a file.")
@rest
@click.argument("graph_id")
@click.option("--version", "version", type=int, help="This version (default: the newest).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Write it here instead of stdout.")
def export_graph(api: Api, out: Out, graph_id: str, version: int | None, output: Path | None) -> int:
    params: dict[str, Any] = {"for_export": "true"}
    if version is not None:
        params["version"] = version
    graph = api.call("GET", f"/api/graphs/{graph_id}", params=params)
    text = json.dumps(graph, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return 0
    output.write_text(text, encoding="utf-8")
    written = {"id": graph.get("id"), "version": graph.get("version"), "path": str(output)}
    out.emit(written, f"exported {graph.get('id')} v{graph.get('version')} to {output}")
    return 0


@click.command(short_help="Run a graph; --follow shows it live.",
               help="Run a graph with inputs (--input name=value: JSON when it parses, else a string); "
                    "--follow shows its nodes live and exits 0 when it completes, 1 when it fails.")
@rest
@click.argument("graph_id")
@click.option("--version", "version", type=int, help="This version (default: the active one).")
@click.option("--input", "inputs", type=KeyValue(), multiple=True, metavar="NAME=VALUE", help="A graph input.")
@click.option("--follow", "-f", "live", is_flag=True, help="Follow the run live until it ends.")
def run(api: Api, out: Out, graph_id: str, version: int | None, inputs: tuple, live: bool) -> int:
    path = f"/api/graphs/{graph_id}/execute" + (f"/{version}" if version is not None else "")
    queued = api.call("POST", path, json_body={"inputs": dict(inputs)})
    if not live:
        out.emit(queued, f"queued {queued['id']} (graph {graph_id} v{queued['graph_version']}), "
                         f"status {queued['status']}; follow it: agentloom executions follow {queued['id']}")
        return 0
    return follow_run(api, out, graph_id, queued["id"], queued["graph_version"])


def follow_run(api: Api, out: Out, graph_id: str, execution_id: str, version: int) -> int:
    """Follow a run until it ends: 0 when it completed, 1 when it failed or was terminated; Ctrl-C
    stops following (not the run) and says how to stop it."""
    graph = api.call("GET", f"/api/graphs/{graph_id}", params={"version": version})
    nodes = graph.get("nodes") or []
    labels = {n["id"]: n.get("block_id", "") for n in nodes} if out.as_json else node_labels(api, nodes)
    tracker = Tracker(None if out.as_json else out.console, labels, execution_id)
    try:
        with tracker:
            asyncio.run(follow(api, graph_id, execution_id, tracker, warn=console(stderr=True)))
    except KeyboardInterrupt:
        click.echo(f"\nstopped following {execution_id}; the run goes on. Stop it with: "
                   f"agentloom executions stop {execution_id}", err=True)
        return INTERRUPTED
    if out.as_json:
        out.json(tracker.run)
    else:
        out.console.print(tracker.summary(), soft_wrap=True)
        out.console.print(outputs_table(tracker.run.get("outputs")))
    return 0 if tracker.status == "COMPLETED" else 1
