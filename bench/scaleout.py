"""Scale-out: a backlog of IO-bound runs drained by one executor and one projector, then by two of
each (``agentloom up --executors 2 --projectors 2``), on installations of their own.

Each run is ``input -> SendWebRequest (PUT to a local server that answers after 50 ms) -> output``:
the run's time is mostly waiting, as for a real agent calling an API. Where the machine has CPU to
spare, a single executor is limited by how many runs of one user it drives at once
(``executor_max_running_per_user``) and a second executor on the other partitions brings its own
slots. On a 2-core machine one executor already keeps the whole stack near the cores' limit, so the
section prints where the CPU went per run (``scaleout Nx cpu``, per service) and the ceiling that
CPU cost sets (``cpu_ceiling_runs_per_s``): a speed-up can only come from below that ceiling.

The executors are paused (SIGSTOP to their process groups) while the burst is accepted and resumed
together, so the figure is the rate at which the executors and projectors drain a backlog, from the
resume to the last run reported COMPLETED by the query API, not the API's accept rate (that one is
``burst100``'s ``accepted_s``). The pause is far inside the consumer session timeout set here, so no
rebalance happens. Every run's output is checked.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psutil

from bench.harness import (
    TERMINAL,
    Watcher,
    check,
    cpu_by_component,
    own_installation,
    report,
    stack_processes,
)

RUNS = 200
WAIT_S = 0.05
INPUT, WEB, OUTPUT = ("aa4b8a8e-0d64-5c6e-9a44-3a0f1d2c0001", "aa4b8a8e-0d64-5c6e-9a44-3a0f1d2c0002",
                      "aa4b8a8e-0d64-5c6e-9a44-3a0f1d2c0003")


class SlowEcho(BaseHTTPRequestHandler):
    """Answers every PUT after ``WAIT_S`` with the JSON body it was sent, keeping the connection
    open as an API server does (HTTP/1.1; the standard library's default, HTTP/1.0, hangs up)."""

    protocol_version = "HTTP/1.1"

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(WAIT_S)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args) -> None:
        pass


class SlowServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # the listen backlog: 5 by default, and a burst's connections were reset


def io_graph(url: str) -> dict:
    return {
        "name": "bench io50", "description": "input -> PUT to a server answering after 50 ms -> output",
        "nodes": [
            {"id": INPUT, "block_id": "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b", "input_default": {"name": "x"}},
            {"id": WEB, "block_id": "6595ae1f-b924-42cb-9a41-551a0611c4b4",
             "input_default": {"url": url, "method": "PUT"}},
            {"id": OUTPUT, "block_id": "363ae599-353e-4804-937e-b2ee3cef3da4", "input_default": {"name": "result"}},
        ],
        "links": [
            {"source_id": INPUT, "sink_id": WEB, "source_name": "result", "sink_name": "body"},
            {"source_id": WEB, "sink_id": OUTPUT, "source_name": "response", "sink_name": "value"},
        ],
    }


def _service_groups(stack, service: str) -> list[int]:
    """Process groups of ``agentloom serve SERVICE`` under the stack (each child has its own)."""
    groups = []
    for proc in psutil.Process(stack.proc.pid).children():
        try:
            cmd = proc.cmdline()
        except psutil.Error:
            continue
        if cmd[-2:] == ["serve", service]:
            groups.append(os.getpgid(proc.pid))
    return groups


async def _drain(stack_class, copies: int, url: str) -> float:
    args = ("--executors", str(copies), "--projectors", str(copies))
    env = {"AGENTLOOM_HTTP_ALLOW_HOSTS": json.dumps(["127.0.0.1"]), "AGENTLOOM_KAFKA_SESSION_TIMEOUT_MS": "60000"}
    with stack_class.beside(f"scaleout{copies}", 2, args=args, env=env) as stack:
        groups = _service_groups(stack, "executor")
        check(len(groups) == copies, f"{copies} executors running, found {len(groups)}")
        async with stack.client() as client:
            r = await client.post("/api/graphs", json={"graph": io_graph(url)})
            r.raise_for_status()
            graph = r.json()
            execute = f"/api/graphs/{graph['id']}/execute/{graph['version']}"
            async with Watcher(stack, graph["id"]) as watcher:
                await _every_executor_took_a_run(client, execute, watcher, copies)
                for group in groups:
                    os.killpg(group, signal.SIGSTOP)
                procs = stack_processes(stack)
                try:
                    queued = await asyncio.gather(*(client.post(execute, json={"inputs": {"x": {"n": i}}})
                                                    for i in range(RUNS)))
                finally:
                    start, parts_before = time.perf_counter(), cpu_by_component(procs)
                    for group in groups:
                        os.killpg(group, signal.SIGCONT)
                ids = [r.json()["id"] for r in queued]
                await asyncio.wait_for(asyncio.gather(*(watcher.event_for(e).wait() for e in ids)), timeout=300)
                seconds_ws, parts_after = time.perf_counter() - start, cpu_by_component(procs)
                parts = {name: used - parts_before.get(name, 0.0) for name, used in parts_after.items()}
                cpu_used = sum(parts.values())
                await _all_listed_terminal(client, ids)
                seconds = time.perf_counter() - start
                results = [r.json() for r in await asyncio.gather(
                    *(client.get(f"/api/graphs/{graph['id']}/executions/{e}") for e in ids))]
        for i, body in enumerate(results):
            check(body["status"] == "COMPLETED" and body["outputs"].get("result") == [{"n": i}],
                  f"scale-out run {i} -> {body.get('status')} {body.get('outputs')}")
    report(f"scaleout {copies}x", executors=copies, projectors=copies, runs=RUNS, seconds=seconds,
           runs_per_s=RUNS / seconds, cpu_ms_per_run=cpu_used / RUNS * 1e3,
           cpu_percent=100 * cpu_used / seconds_ws,  # of one core
           # the most runs/s the machine's cores could give at this CPU cost per run
           cpu_ceiling_runs_per_s=(psutil.cpu_count() or 1) * RUNS / cpu_used)
    report(f"scaleout {copies}x cpu", **{f"{name}_ms_per_run": used / RUNS * 1e3
                                        for name, used in sorted(parts.items(), key=lambda item: -item[1])})
    return seconds


async def _every_executor_took_a_run(client, execute: str, watcher: Watcher, copies: int) -> None:
    """Warm-up runs until every executor has started one (each owns a partition by then)."""
    for _ in range(20):
        ids = [(await client.post(execute, json={"inputs": {"x": {"n": -1}}})).json()["id"] for _ in range(4)]
        await asyncio.wait_for(asyncio.gather(*(watcher.event_for(e).wait() for e in ids)), timeout=60)
        details = (await client.get("/health")).json()["components"]["executor"].get("details") or []
        if len(details) == copies and all(d.get("started", 0) > 0 for d in details):
            return
    check(False, f"not every one of {copies} executors started a warm-up run")


async def _all_listed_terminal(client, ids: list[str]) -> None:
    """Until the query API's list of the user's runs shows every one ended: one request a poll, as
    burst100 does (200 single GETs a poll measured the bench's own client, ~0.8 s of the figure)."""
    while True:
        listed = {e["id"]: e["status"] for e in (await client.get("/api/executions")).json()}
        if all(listed.get(e) in TERMINAL for e in ids):
            return
        await asyncio.sleep(0.005)


async def bench_scaleout(stack_class) -> None:
    if not own_installation("scaleout"):
        return
    server = SlowServer(("127.0.0.1", 0), SlowEcho)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/echo"
    try:
        seconds = {}
        for copies in (1, 2):
            seconds[copies] = await _drain(stack_class, copies, url)
        report("scaleout", speedup=seconds[1] / seconds[2], block_wait_ms=WAIT_S * 1e3)
    finally:
        server.shutdown()
