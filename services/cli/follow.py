"""Following a run live: the WebSocket (AutoGPT's protocol: ``subscribe_graph_execution`` with
``after_seq``, then ``node_execution_event`` and ``graph_execution_event`` pushes) drives a rich
progress bar of nodes done out of the graph's nodes and prints a line per node as it ends; without
a WebSocket it polls ``GET /api/graphs/{gid}/executions/{eid}``.

A dropped connection resumes with ``after_seq`` (the last ``seq`` seen), so nothing is missed or
shown twice; a WebSocket that cannot be opened at all falls back to polling."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from services.cli.api_client import Api
from services.cli.common import TERMINAL, duration, seconds, status_style

SUBSCRIBE = "subscribe_graph_execution"
NODE_EVENT = "node_execution_event"
GRAPH_EVENT = "graph_execution_event"
AUTH_CLOSE_CODES = frozenset({4001, 4002, 4003})
RECONNECTS = 3
POLL_INTERVAL_S = 0.5
MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # a node's resolved output can be large


class Tracker:
    """What the terminal shows of a run: one line per node execution as it ends (or waits for review),
    the bar at the number of graph nodes that have ended, and the run's last known state."""

    def __init__(self, console: Console | None, labels: dict[str, str], execution_id: str) -> None:
        self.console = console
        self.execution_id = execution_id
        self.labels = labels  # graph node id -> block name (and pin name)
        self.total = max(len(labels), 1)
        self.node_status: dict[str, str] = {}
        self.nodes_done: set[str] = set()
        self.run: dict[str, Any] = {}
        self.progress: Progress | None = None
        self.task = None

    def __enter__(self) -> Tracker:
        if self.console is not None:
            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("nodes"), TimeElapsedColumn(), console=self.console)
            self.progress.start()
            self.task = self.progress.add_task(f"run {self.execution_id} QUEUED", total=self.total)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    @property
    def status(self) -> str:
        return str(self.run.get("status", ""))

    @property
    def ended(self) -> bool:
        return self.status in TERMINAL

    def node(self, data: dict[str, Any]) -> None:
        key, status = data.get("node_exec_id"), str(data.get("status", ""))
        if not key or self.node_status.get(key) == status:
            return
        self.node_status[key] = status
        if status in TERMINAL:
            self.nodes_done.add(str(data.get("node_id")))
        if self.progress is None or status not in (*TERMINAL, "REVIEW"):
            return
        took = duration(data.get("start_time"), data.get("end_time")) if status in TERMINAL else ""
        node_id = str(data.get("node_id"))
        line = f"{status:<10} {self.labels.get(node_id) or data.get('block_id')}  node {node_id}"
        if took:
            line += f"  {took}"
        if status == "FAILED":
            error = (data.get("output_data") or {}).get("error")
            if error:
                line += f"  error: {json.dumps(error, default=str)[:200]}"
        if status == "REVIEW":
            line += "  (waiting for your review: agentloom reviews list)"
        self.progress.console.print(line, style=status_style(status), soft_wrap=True)
        self.progress.update(self.task, completed=min(len(self.nodes_done), self.total))

    def graph(self, data: dict[str, Any]) -> None:
        self.run = data
        if self.progress is not None:
            self.progress.update(self.task, description=f"run {self.execution_id} {self.status}",
                                 completed=min(len(self.nodes_done), self.total))

    def summary(self) -> str:
        stats = self.run.get("stats") or {}
        took = seconds(stats.get("duration")) if isinstance(stats, dict) and stats.get("duration") else ""
        cost = stats.get("cost") if isinstance(stats, dict) else None
        parts = [f"run {self.execution_id} {self.status}"]
        if took:
            parts.append(f"in {took}")
        if cost is not None:
            parts.append(f"cost {cost}")
        failed = sum(1 for status in self.node_status.values() if status == "FAILED")
        if failed:
            parts.append(f"{failed} node execution{'s' if failed > 1 else ''} failed")
        if isinstance(stats, dict) and stats.get("error"):
            parts.append(f"error: {stats['error']}")
        return ", ".join(parts)


class _NoSocket(Exception):
    """The WebSocket could not be used for this run: poll instead."""


async def follow(api: Api, graph_id: str, execution_id: str, tracker: Tracker, *,
                 warn: Console | None = None) -> None:
    """Until the run ends: over the WebSocket, else by polling."""
    try:
        await _over_socket(api, execution_id, tracker)
        return
    except _NoSocket as exc:
        if warn is not None:
            warn.print(f"agentloom: {exc}; polling the REST API instead", soft_wrap=True)
    await _poll(api, graph_id, execution_id, tracker)


async def _over_socket(api: Api, execution_id: str, tracker: Tracker) -> None:
    import websockets
    from websockets.asyncio.client import connect

    last_seq = 0
    received_any = False
    for attempt in range(RECONNECTS + 1):
        try:
            async with connect(api.ws_url(), open_timeout=10, max_size=MAX_MESSAGE_BYTES) as ws:
                await ws.send(json.dumps({"method": SUBSCRIBE,
                                          "data": {"graph_exec_id": execution_id, "after_seq": last_seq}}))
                async for raw in ws:
                    msg = json.loads(raw)
                    method, data = msg.get("method"), msg.get("data")
                    if method == SUBSCRIBE:
                        if msg.get("success") is False:
                            raise _NoSocket(f"the WebSocket refused the subscription ({msg.get('error')})")
                        received_any = True
                        continue
                    if not isinstance(data, dict):
                        continue
                    seq = data.get("seq")
                    if isinstance(seq, int):
                        last_seq = max(last_seq, seq)
                    if method == NODE_EVENT:
                        tracker.node(data)
                    elif method == GRAPH_EVENT:
                        tracker.graph(data)
                        if tracker.ended:
                            return
        except websockets.ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else None
            if code in AUTH_CLOSE_CODES:
                raise _NoSocket(f"the WebSocket closed with {code} ({exc.rcvd.reason})") from None
            if attempt == RECONNECTS:
                raise _NoSocket(f"the WebSocket kept closing ({exc})") from None
        except (OSError, TimeoutError, websockets.InvalidHandshake, websockets.InvalidURI) as exc:
            if not received_any or attempt == RECONNECTS:
                raise _NoSocket(f"cannot open the WebSocket at {api.url}/ws ({exc or type(exc).__name__})") from None
        else:  # the server ended the stream without the run's end
            if attempt == RECONNECTS:
                raise _NoSocket("the WebSocket ended before the run did")
        await asyncio.sleep(min(0.5 * 2**attempt, 4))


async def _poll(api: Api, graph_id: str, execution_id: str, tracker: Tracker) -> None:
    while True:
        run = await asyncio.to_thread(api.call, "GET", f"/api/graphs/{graph_id}/executions/{execution_id}")
        for node in run.get("node_executions") or []:
            tracker.node(node)
        tracker.graph(run)
        if tracker.ended:
            return
        await asyncio.sleep(POLL_INTERVAL_S)
