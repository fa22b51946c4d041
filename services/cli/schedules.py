"""``agentloom schedules list|create|delete`` and ``agentloom credits``, over the REST API."""

from __future__ import annotations

from typing import Any

import click

from services.cli.api_client import Api
from services.cli.common import KeyValue, Out, rest, show, table, when


@click.group(help="Runs of a graph on a cron timetable: list, create, delete.")
def schedules() -> None:
    pass


@schedules.command("list", help="Your schedules, newest first.")
@rest
@click.option("--graph", "graph_id", help="Only the schedules of this graph.")
def list_schedules(api: Api, out: Out, graph_id: str | None) -> int:
    found = api.call("GET", f"/api/graphs/{graph_id}/schedules" if graph_id else "/api/schedules")
    grid = table("id", "name", "graph", "version", "cron", "timezone", "next run", "status", "inputs")
    for item in found:
        grid.add_row(item["id"], item["name"], item["graph_id"], str(item["graph_version"]), item["cron"],
                     item.get("timezone") or "", when(item.get("next_run_time")), item.get("status") or "",
                     show(item.get("input_data") or {}, 60))
    out.emit(found, grid if found else "no schedules")
    return 0


@schedules.command("create", help="Schedule runs of a graph (its active version unless --version).")
@rest
@click.argument("graph_id")
@click.option("--cron", required=True, help='When it runs, as a cron expression ("*/5 * * * *").')
@click.option("--name", required=True, help="The schedule's name.")
@click.option("--input", "inputs", type=KeyValue(), multiple=True, metavar="NAME=VALUE", help="A graph input.")
@click.option("--version", "version", type=int, help="This version of the graph.")
@click.option("--timezone", help="The IANA time zone the cron expression is read in (default: your own).")
def create_schedule(api: Api, out: Out, graph_id: str, cron: str, name: str, inputs: tuple, version: int | None,
                    timezone: str | None) -> int:
    body: dict[str, Any] = {"name": name, "cron": cron, "inputs": dict(inputs)}
    if version is not None:
        body["graph_version"] = version
    if timezone is not None:
        body["timezone"] = timezone
    made = api.call("POST", f"/api/graphs/{graph_id}/schedules", json_body=body)
    out.emit(made, f"scheduled {made['id']} ({made['name']}: {made['cron']} {made.get('timezone') or ''}), "
                   f"next run {when(made.get('next_run_time')) or 'not set'}")
    return 0


@schedules.command("delete", help="Delete a schedule (runs it started stay).")
@rest
@click.argument("schedule_id")
def delete_schedule(api: Api, out: Out, schedule_id: str) -> int:
    gone = api.call("DELETE", f"/api/schedules/{schedule_id}")
    out.emit(gone, f"deleted schedule {schedule_id}")
    return 0


@click.command(help="Your credit balance and your last transactions.")
@rest
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True, help="Transactions to show.")
def credits(api: Api, out: Out, limit: int) -> int:
    balance = api.call("GET", "/api/credits")
    history = api.call("GET", "/api/credits/transactions", params={"transaction_count_limit": limit})
    grid = table("time", "type", "amount", "balance", "description", title="last transactions")
    for item in history["transactions"]:
        grid.add_row(when(item.get("transaction_time")), str(item["transaction_type"]), str(item["amount"]),
                     str(item["running_balance"]), item.get("description") or "")
    out.emit({"credits": balance["credits"], "transactions": history["transactions"]},
             f"balance: {balance['credits']} credits", grid if history["transactions"] else "no transactions")
    return 0
