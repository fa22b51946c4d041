"""``agentloom executions list|show|events|follow|stop`` (and time travel's retry|fork|diff|lineage):
your runs over the REST API."""

from __future__ import annotations

from typing import Any

import click

from services.cli import time_travel
from services.cli.api_client import Api
from services.cli.common import (
    Out,
    block_names,
    duration,
    outputs_table,
    rest,
    run_cost,
    show,
    status_style,
    table,
    when,
)

MAX_LIST = 250  # what GET /api/executions answers at most
MAX_GRAPH_PAGE = 100


@click.group(short_help="Your runs: list, show, events, follow, stop, retry, fork...",
             help="Your runs: list, show, events, follow, stop; retry, fork, diff, lineage.")
def executions() -> None:
    pass


@executions.command("list", help="Your runs, newest first.")
@rest
@click.option("--graph", "graph_id", help="Only the runs of this graph.")
@click.option("--limit", type=click.IntRange(1, MAX_LIST), default=20, show_default=True)
def list_executions(api: Api, out: Out, graph_id: str | None, limit: int) -> int:
    if graph_id is None:
        runs = api.call("GET", "/api/executions")[:limit]
    else:
        runs = api.call("GET", f"/api/graphs/{graph_id}/executions",
                        params={"page_size": min(limit, MAX_GRAPH_PAGE)})["executions"][:limit]
    grid = table("id", "graph", "version", "status", "started", "duration", "cost")
    for item in runs:
        grid.add_row(item["id"], item["graph_id"], str(item["graph_version"]), item["status"],
                     when(item.get("started_at")), duration(item.get("started_at"), item.get("ended_at")),
                     run_cost(item), style=status_style(item["status"]) or None)
    out.emit(runs, grid if runs else "no executions")
    return 0


@executions.command("show", help="One run: status, its node executions (status, duration, cost) and outputs.")
@rest
@click.argument("execution_id")
def show_execution(api: Api, out: Out, execution_id: str) -> int:
    found = api.call("GET", f"/api/executions/{execution_id}")
    names = {} if out.as_json else block_names(api, {ne["block_id"] for ne in found.get("node_executions") or []})
    out.emit(found, *_execution_view(found, names))
    return 0


def _execution_view(found: dict[str, Any], names: dict[str, str]) -> list[Any]:
    stats = found.get("stats") or {}
    head = table("", "", title=f"execution {found['id']}")
    head.show_header = False
    head.add_row("graph", f"{found['graph_id']} v{found['graph_version']}")
    head.add_row("status", found["status"], style=status_style(found["status"]) or None)
    head.add_row("started", when(found.get("started_at")))
    head.add_row("ended", when(found.get("ended_at")))
    head.add_row("duration", duration(found.get("started_at"), found.get("ended_at")))
    head.add_row("cost", str(stats.get("cost", 0)) if isinstance(stats, dict) else "")
    if isinstance(stats, dict) and stats.get("error"):
        head.add_row("error", show(stats["error"]))
    nodes = table("block", "node", "status", "duration", "cost", title="nodes")
    for ne in found.get("node_executions") or []:
        node_stats = ne.get("stats") or {}
        nodes.add_row(names.get(ne["block_id"], ne["block_id"]), ne["node_id"], ne["status"],
                      duration(ne.get("start_time"), ne.get("end_time")),
                      show(node_stats.get("cost", "")) if isinstance(node_stats, dict) else "",
                      style=status_style(ne["status"]) or None)
    return [head, nodes, outputs_table(found.get("outputs"))]


@executions.command("events", help="A run's whole event history, in order (what the store recorded).")
@rest
@click.argument("execution_id")
def events(api: Api, out: Out, execution_id: str) -> int:
    history = api.call("GET", f"/api/executions/{execution_id}/events")
    grid = table("seq", "time", "event", "cause", "payload")
    for entry in history["events"]:
        cause = entry.get("cause")
        grid.add_row(str(entry["seq"]), when(entry.get("time")), entry["type"], "" if cause is None else str(cause),
                     show(entry.get("payload"), 100))
    out.emit(history, grid if history["events"] else "no events")
    return 0


@executions.command("follow", help="Follow a run live until it ends (exit 0 when it completes, 1 when not).")
@rest
@click.argument("execution_id")
def follow_execution(api: Api, out: Out, execution_id: str) -> int:
    from services.cli.graphs import follow_run

    found = api.call("GET", f"/api/executions/{execution_id}")
    return follow_run(api, out, found["graph_id"], execution_id, found["graph_version"])


@executions.command("stop", help="Stop a run and wait for its end.")
@rest
@click.argument("execution_id")
def stop(api: Api, out: Out, execution_id: str) -> int:
    found = api.call("GET", f"/api/executions/{execution_id}")
    ended = api.call("POST", f"/api/graphs/{found['graph_id']}/executions/{execution_id}/stop")
    out.emit(ended, f"run {execution_id} {ended.get('status', 'stopped') if isinstance(ended, dict) else 'stopped'}")
    return 0


time_travel.add_commands(executions)
