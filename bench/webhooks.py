"""Bench: webhook ingress to run started, over 100 deliveries (``bench/run.py`` wires it in).

One trigger graph (generic webhook -> output), one triggered preset; 100 deliveries posted one after
another with their own Idempotency-Key, each timed from just before the POST to the run's
``started_at`` (the executor's ExecutionStarted, same machine clock). The ingress answer time is
reported beside it. Every run's output must be its own delivery's payload.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import httpx

from bench.harness import TERMINAL, Watcher, check, pct, report

TRIGGER = "8fa8c167-2002-47ce-aba8-97572fc5d387"
OUTPUT = "363ae599-353e-4804-937e-b2ee3cef3da4"


def trigger_graph() -> dict:
    return {"name": "bench webhook", "description": "payload out", "nodes": [
        {"id": "hook", "block_id": TRIGGER, "input_default": {}},
        {"id": "out", "block_id": OUTPUT, "input_default": {"name": "got"}},
    ], "links": [{"source_id": "hook", "sink_id": "out", "source_name": "payload", "sink_name": "value"}]}


async def bench_webhook_ingress(stack, client: httpx.AsyncClient, deliveries: int = 100) -> None:
    r = await client.post("/api/graphs", json={"graph": trigger_graph()})
    r.raise_for_status()
    graph = r.json()
    r = await client.post("/api/library/presets/setup-trigger", json={
        "name": "bench", "graph_id": graph["id"], "graph_version": graph["version"], "trigger_config": {}})
    r.raise_for_status()
    preset = r.json()
    # the path, on the stack's own address (the URL in the answer is built from AGENTLOOM_PUBLIC_URL)
    url = f"/api/integrations/generic_webhook/webhooks/{preset['webhook_id']}/ingress"
    secret = preset["webhook"]["secret"]
    sent: dict[str, tuple[datetime, int]] = {}
    answers = []
    async with Watcher(stack, graph["id"]) as watcher, httpx.AsyncClient(base_url=stack.base, timeout=60) as sender:
        for n in range(deliveries + 1):  # the first one warms up
            at, start = datetime.now(UTC), time.perf_counter()
            r = await sender.post(url, json={"n": n}, headers={"X-Webhook-Secret": secret,
                                                               "Idempotency-Key": f"bench-{n}"})
            r.raise_for_status()
            if n:
                answers.append(time.perf_counter() - start)
                sent[r.json()["execution_ids"][0]] = (at, n)
        await asyncio.gather(*(asyncio.wait_for(watcher.event_for(i).wait(), timeout=120) for i in sent))
    latencies = []
    for exec_id, (at, n) in sent.items():
        while True:
            run = (await client.get(f"/api/graphs/{graph['id']}/executions/{exec_id}")).json()
            if run.get("status") in TERMINAL:
                break
            await asyncio.sleep(0.01)
        check(run["status"] == "COMPLETED" and run["outputs"] == {"got": [{"n": n}]},
              f"webhook delivery {n}: {run.get('status')} {run.get('outputs')}")
        latencies.append((datetime.fromisoformat(run["started_at"]) - at).total_seconds())
    report("webhook_ingress", deliveries=len(latencies), started_p50_ms=pct(latencies, 50) * 1000,
           started_p99_ms=pct(latencies, 99) * 1000, answer_p50_ms=pct(answers, 50) * 1000,
           answer_p99_ms=pct(answers, 99) * 1000)
